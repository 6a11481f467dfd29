import { applyEdits, type Edit } from './edits.js';
import type { InstrumentLinkOptions, TrackedLink } from './html-instrument.js';
import { trackableUrl } from './link-url.js';

export interface InstrumentTextResult {
  text: string;
  links: TrackedLink[];
  /** Every splice made, in input offsets and document order: {@link revertEdits} on `text` gives the input back. */
  edits: Edit[];
}

/**
 * `<https://…>` and `<URL:https://…>`, the delimited form of RFC 3986 appendix C, whose content may be wrapped
 * over lines (the whitespace is not part of the URL); or a bare `http(s)://` URL not glued to a word before it.
 */
const URL_IN_TEXT = /<(?:URL:)?(https?:\/\/[^<>"]*)>|(?<![\p{L}\p{N}_+.-])https?:\/\/[^\s<>"]+/giu;
// A wrapped delimited URL still sits in one paragraph; past a blank line the `>` belongs to something else.
const BLANK_LINE = /\n[\t ]*\r?\n/;
const TRAILING_PUNCTUATION = new Set(['.', ',', ';', ':', '!', '?', "'", '"']);
const CLOSERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

function count(text: string, char: string): number {
  let n = 0;
  for (let at = text.indexOf(char); at !== -1; at = text.indexOf(char, at + 1)) n++;
  return n;
}

/**
 * Where a bare URL ends: sentence punctuation after it is not part of it (`see https://example.com/.`), nor is a
 * closing bracket that opens nowhere inside it (`(https://example.com/)`), while a balanced one is
 * (`https://en.wikipedia.org/wiki/Mercury_(planet)`).
 */
function bareUrlEnd(text: string, start: number, end: number): number {
  while (end > start) {
    const last = text[end - 1]!;
    const opener = CLOSERS[last];
    if (TRAILING_PUNCTUATION.has(last)) end--;
    else if (opener !== undefined && count(text.slice(start, end), last) > count(text.slice(start, end), opener)) end--;
    else break;
  }
  return end;
}

/**
 * Rewrites the http(s) URLs of a plain-text part to their tracked URLs, under the same rules as the HTML part
 * (placeholders, already tracked URLs and URLs without a host stay as they are). Pure and synchronous.
 *
 * @example
 * ```ts
 * const { text } = instrumentText('Reset it: https://example.com/reset?t=1.', {
 *   trackLink: (url, index) => `https://t.example.com/track/click/${index}`,
 * });
 * // 'Reset it: https://t.example.com/track/click/0.'
 * ```
 */
export function instrumentText(text: string, options: InstrumentLinkOptions): InstrumentTextResult {
  const edits: Edit[] = [];
  const links: TrackedLink[] = [];
  const rules = { base: null, trackedPrefix: options.trackedPrefix };
  let index = 0;
  // a regex of its own: trackLink may instrument another text before this loop is done
  const urls = new RegExp(URL_IN_TEXT);
  for (let match = urls.exec(text); match; match = urls.exec(text)) {
    let start: number;
    let end: number;
    let written: string;
    const delimited = match[1];
    if (delimited !== undefined) {
      if (BLANK_LINE.test(delimited)) {
        // not a delimited URL after all: look again from just inside the `<`, where a bare URL may start
        urls.lastIndex = match.index + 1;
        continue;
      }
      end = match.index + match[0].length - 1;
      start = end - delimited.length;
      written = delimited.replace(/\s+/g, '');
    } else {
      start = match.index;
      end = bareUrlEnd(text, start, start + match[0].length);
      written = text.slice(start, end);
    }
    const url = trackableUrl(written, rules);
    if (url === null) continue;
    const linkIndex = index++;
    const trackedUrl = options.trackLink?.(url, linkIndex) ?? null;
    if (trackedUrl === null) continue;
    edits.push({ start, end, original: text.slice(start, end), replacement: trackedUrl });
    links.push({ index: linkIndex, url, trackedUrl, tag: 'text' });
  }
  return { text: applyEdits(text, edits), links, edits };
}
