import { hasTemplatePlaceholder } from './placeholders.js';

/**
 * The string a browser's URL parser works on for an attribute value: leading and trailing C0 controls and spaces
 * stripped, every ASCII tab and newline removed (WHATWG URL Standard, basic URL parser, first steps). `href="
 * https://example.com/ "` and an href broken over two lines both lead where a browser would go.
 */
export function urlOfAttribute(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && value.charCodeAt(start) <= 0x20) start++;
  while (end > start && value.charCodeAt(end - 1) <= 0x20) end--;
  return value.slice(start, end).replace(/[\t\n\r]/g, '');
}

/** What decides whether a link is tracked, besides its own URL. */
export interface LinkRules {
  /** The document's base URL (`<base href>`), against which relative links resolve. */
  base: URL | null;
  /** A URL starting with this is one of our tracking URLs already. */
  trackedPrefix: string | undefined;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:/i;
const HTTP_WITH_AUTHORITY = /^https?:[/\\]{2}/i;

function parsed(url: string, base?: URL): URL | null {
  try {
    return new URL(url, base);
  } catch {
    return null;
  }
}

/**
 * The http(s) URL a link leads to, when it is one to track; null when the link stays as it is: another scheme
 * (`mailto:`, `tel:`, `javascript:`, `ftp:`, …), a fragment, a relative URL without a base, `http://` with no host,
 * a template placeholder, or one of our own tracking URLs. An absolute URL comes back as written (after
 * {@link urlOfAttribute}), so the redirect goes byte for byte where the author pointed; a relative one resolved
 * against the base, and the rare `http:host` form, come back as the parser's serialisation.
 */
export function trackableUrl(attributeValue: string, rules: LinkRules): string | null {
  const written = urlOfAttribute(attributeValue);
  if (written === '' || written.startsWith('#') || hasTemplatePlaceholder(written)) return null;
  let url: string;
  const absolute = parsed(written);
  if (absolute) {
    if (absolute.protocol !== 'http:' && absolute.protocol !== 'https:') return null;
    url = HTTP_WITH_AUTHORITY.test(written) ? written : absolute.href;
  } else {
    if (SCHEME.test(written) || !rules.base) return null;
    const resolved = parsed(written, rules.base);
    if (!resolved || (resolved.protocol !== 'http:' && resolved.protocol !== 'https:')) return null;
    url = resolved.href;
  }
  if (rules.trackedPrefix && url.startsWith(rules.trackedPrefix)) return null;
  return url;
}

/** The document's base URL from the first `<base href>`'s value, when it is an absolute URL. */
export function baseUrl(attributeValue: string | undefined): URL | null {
  return attributeValue === undefined ? null : parsed(urlOfAttribute(attributeValue));
}
