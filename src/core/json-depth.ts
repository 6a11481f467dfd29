/**
 * The deepest nesting Mailtrail accepts in a provider's payload. Real provider events nest a handful of levels
 * (an SES bounce about five); the bound keeps every stored payload far below the depth at which V8's
 * `JSON.stringify` and any recursive walk run out of stack (a few thousand levels).
 */
export const MAX_JSON_DEPTH = 64;

const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether the JSON text nests arrays and objects more than `limit` levels deep. A linear scan with no recursion
 * and no parse, so it is safe on any input: brackets inside strings do not count, and text that is not JSON is
 * scanned the same way (its brackets count as if it were). Bytes work as well as strings: in UTF-8 no byte of a
 * multi-byte character is an ASCII bracket, quote or backslash.
 */
export function nestsDeeperThan(json: string | Uint8Array, limit: number = MAX_JSON_DEPTH): boolean {
  const length = json.length;
  const at = typeof json === 'string' ? (index: number) => json.charCodeAt(index) : (index: number) => json[index]!;
  let depth = 0;
  let inString = false;
  for (let index = 0; index < length; index++) {
    const code = at(index);
    if (inString) {
      if (code === BACKSLASH) index++;
      else if (code === QUOTE) inString = false;
    } else if (code === QUOTE) {
      inString = true;
    } else if (code === OPEN_BRACKET || code === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if ((code === CLOSE_BRACKET || code === CLOSE_BRACE) && depth > 0) {
      depth--;
    }
  }
  return false;
}
