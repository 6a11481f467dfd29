import { escapeAttribute } from './escape.js';

/**
 * The open pixel's markup. Each part keeps the image from showing or moving anything:
 * - `width`/`height` attributes: Outlook on Windows renders with Word, which sizes images by their attributes and
 *   ignores CSS widths (https://www.caniemail.com/features/css-width/ lists Outlook's partial support);
 * - `alt=""`: with images blocked, clients show the alt text or a placeholder box in its place; an empty alt shows
 *   nothing (HTML §4.8.4.4.14, an image that is not part of the content);
 * - `border="0"` and `border-width:0`: older clients draw a border around images, and a blue one inside links;
 * - `display:block`: an inline image sits on a line box and adds the line's height below it (the "gap under
 *   images" of email layouts, https://www.emailonacid.com/blog/article/email-development/12_fixes_for_the_image_spacing_in_html_emails/);
 *   as a block it takes exactly its 1px, where Gmail, Apple Mail and Outlook all honour block display;
 * - `!important` on sizes, margins and padding: responsive templates style every image (`img { width: 100% }`,
 *   `max-width: 100%`), which would stretch the pixel into a full-width transparent box; the same declarations
 *   are what SendGrid's own open-tracking image carries in every message it tracks.
 * The slash closes the element in XHTML documents, which many email templates still are, and is ignored by HTML.
 */
export function openPixel(src: string): string {
  return (
    `<img src="${escapeAttribute(src, '"')}" width="1" height="1" alt="" border="0" style="display:block !important;` +
    'width:1px !important;height:1px !important;border-width:0 !important;margin:0 !important;padding:0 !important;' +
    'overflow:hidden !important;" />'
  );
}
