import { MailtrailError } from './errors.js';

/**
 * The deepest nesting Mailtrail accepts in a provider's payload. Real provider events nest a handful of levels
 * (an SES bounce about five); the bound keeps every stored payload far below the depth at which V8's
 * `JSON.stringify` and any recursive walk run out of stack (a few thousand levels).
 */
export const MAX_JSON_DEPTH = 64;

/** The error for a payload nested deeper than MAX_JSON_DEPTH. */
export function tooDeep(): MailtrailError {
  return new MailtrailError('MT_ERR_BODY_TOO_DEEP', `the payload nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
}

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
  return typeof json === 'string' ? textNestsDeeperThan(json, limit) : bytesNestDeeperThan(json, limit);
}

// Two copies of one loop: indexing a string and a byte array in the same loop (through a closure or a union) made
// the scan several times slower than JSON.parse on a 250 KB SendGrid batch.

function textNestsDeeperThan(json: string, limit: number): boolean {
  let depth = 0;
  for (let index = 0; index < json.length; index++) {
    const code = json.charCodeAt(index);
    if (code === QUOTE) {
      // skip the string: to the next quote that no backslash escapes
      for (index++; index < json.length; index++) {
        const inner = json.charCodeAt(index);
        if (inner === BACKSLASH) index++;
        else if (inner === QUOTE) break;
      }
    } else if (code === OPEN_BRACKET || code === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if ((code === CLOSE_BRACKET || code === CLOSE_BRACE) && depth > 0) {
      depth--;
    }
  }
  return false;
}

function bytesNestDeeperThan(json: Uint8Array, limit: number): boolean {
  let depth = 0;
  for (let index = 0; index < json.length; index++) {
    const code = json[index]!;
    if (code === QUOTE) {
      for (index++; index < json.length; index++) {
        const inner = json[index]!;
        if (inner === BACKSLASH) index++;
        else if (inner === QUOTE) break;
      }
    } else if (code === OPEN_BRACKET || code === OPEN_BRACE) {
      if (++depth > limit) return true;
    } else if ((code === CLOSE_BRACKET || code === CLOSE_BRACE) && depth > 0) {
      depth--;
    }
  }
  return false;
}
