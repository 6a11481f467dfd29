// Matches a UTF-16 surrogate that is not part of a pair, or a NUL character.
// eslint-disable-next-line no-control-regex -- NUL is exactly what this must find
const UNSTORABLE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]|\u0000/g;

/**
 * Text as both databases will store it. JSON escapes can produce lone surrogates, which are stored as U+FFFD, and
 * NUL, which PostgreSQL refuses; a key that changed on the way into the database would no longer match itself.
 */
export function storableText(text: string): string {
  UNSTORABLE.lastIndex = 0;
  return UNSTORABLE.test(text) ? text.replace(UNSTORABLE, (char) => (char === '\u0000' ? '' : '\uFFFD')) : text;
}
