import { QuoteType } from 'htmlparser2';
import { applyEdits, type Edit } from './edits.js';
import { escapeAttribute } from './escape.js';
import { scanHtml, type ScannedAttribute } from './html-scan.js';
import { baseUrl, trackableUrl, type LinkRules } from './link-url.js';
import { openPixel } from './pixel.js';

/** A link that was rewritten. */
export interface TrackedLink {
  /** The index handed to `trackLink`: the link's rank among the trackable links, in document order, from 0. */
  index: number;
  /** The URL a browser would have followed: decoded once, trimmed, resolved against `<base href>` when relative. */
  url: string;
  /** What `trackLink` returned for it, now in the document. */
  trackedUrl: string;
  /** The element (`a`, `area`, `v:roundrect`, …); always `text` for the text part. */
  tag: string;
}

/** How to turn a link into its tracked form; every option is off when absent. */
export interface InstrumentLinkOptions {
  /**
   * The tracked URL for the trackable link at `index` (0-based, document order) whose original URL is `url`;
   * null leaves that link as it is. Absent: no link is rewritten.
   */
  trackLink?: (url: string, index: number) => string | null;
  /** Links whose URL starts with this are tracked already and stay as they are (e.g. `https://t.example.com/track/`). */
  trackedPrefix?: string;
}

export interface InstrumentHtmlOptions extends InstrumentLinkOptions {
  /** The open pixel's `src`; absent: no pixel. */
  pixelUrl?: string;
}

export interface InstrumentHtmlResult {
  html: string;
  links: TrackedLink[];
  /** Every splice made, in input offsets and document order: {@link revertEdits} on `html` gives the input back. */
  edits: Edit[];
}

function isOptOut(attribute: ScannedAttribute): boolean {
  return attribute.value.trim().toLowerCase() === 'off';
}

/** The attribute and the whitespace before it, so that `<a href="…" data-mailtrail-track="off">` becomes `<a href="…">`. */
function removal(html: string, attribute: ScannedAttribute): Edit {
  let start = attribute.nameStart;
  while (start > 0 && /[\t\n\f\r ]/.test(html[start - 1]!)) start--;
  return { start, end: attribute.end, original: html.slice(start, attribute.end), replacement: '' };
}

function rewrite(html: string, href: ScannedAttribute, trackedUrl: string): Edit {
  const quote = href.quote === QuoteType.Single ? "'" : '"';
  const escaped = escapeAttribute(trackedUrl, quote);
  // an unquoted value gains quotes: a tracked URL may hold characters that would end an unquoted one
  const replacement = href.quote === QuoteType.Unquoted ? `"${escaped}"` : escaped;
  return { start: href.valueStart, end: href.valueEnd, original: html.slice(href.valueStart, href.valueEnd), replacement };
}

/**
 * Rewrites the links of an HTML email to their tracked URLs and inserts the open pixel, changing nothing else:
 * the output is the input with only those attribute values, the removed `data-mailtrail-track="off"` attributes
 * and the pixel spliced in. Pure and synchronous; malformed HTML never throws (what does not parse as a tag is
 * left as it is).
 *
 * @example
 * ```ts
 * const { html } = instrumentHtml('<a href="https://example.com/?a=1&amp;b=2">x</a>', {
 *   trackLink: (url, index) => `https://t.example.com/track/click/${index}?u=${encodeURIComponent(url)}`,
 *   pixelUrl: 'https://t.example.com/track/open/abc',
 * });
 * ```
 */
export function instrumentHtml(html: string, options: InstrumentHtmlOptions): InstrumentHtmlResult {
  const scan = scanHtml(html);
  const rules: LinkRules = { base: baseUrl(scan.baseHref), trackedPrefix: options.trackedPrefix };
  const edits: Edit[] = [];
  const links: TrackedLink[] = [];
  let index = 0;
  for (const link of scan.links) {
    const optOuts = link.trackAttributes.filter(isOptOut);
    for (const attribute of optOuts) edits.push(removal(html, attribute));
    // browsers read the first of duplicated attributes, so the first decides
    const optedOut = link.trackAttributes[0] !== undefined && isOptOut(link.trackAttributes[0]);
    if (optedOut || !link.href) continue;
    const url = trackableUrl(link.href.value, rules);
    if (url === null) continue;
    const linkIndex = index++;
    const trackedUrl = options.trackLink?.(url, linkIndex) ?? null;
    if (trackedUrl === null) continue;
    edits.push(rewrite(html, link.href, trackedUrl));
    links.push({ index: linkIndex, url, trackedUrl, tag: link.tag });
  }
  if (options.pixelUrl !== undefined) {
    const at = scan.lastBodyClose ?? html.length;
    edits.push({ start: at, end: at, original: '', replacement: openPixel(options.pixelUrl) });
  }
  edits.sort((a, b) => a.start - b.start);
  return { html: applyEdits(html, edits), links, edits };
}
