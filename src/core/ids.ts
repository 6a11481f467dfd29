import { randomBytes } from 'node:crypto';

export type IdPrefix = 'env' | 'int' | 'msg' | 'evt' | 'ep' | 'dlv' | 'key' | 'req' | 'ntc' | 'hit';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz'; // Crockford base32, lower case
const HIGH_LIMIT = 2 ** 50;
const LOW_LIMIT = 2 ** 30;

let lastTime = 0;
// 80 random bits held as a 50-bit and a 30-bit number: incrementing numbers is far cheaper than buffers,
// and ids are made once per stored event.
let randomHigh = 0;
let randomLow = 0;

/**
 * A prefixed id that sorts by creation time: 10 characters of milliseconds, then 16 of randomness.
 * Within one millisecond the random part is incremented, so ids made by one process stay strictly ordered.
 */
export function newId(prefix: IdPrefix, now: number = Date.now()): string {
  if (now <= lastTime) {
    now = lastTime;
    randomLow += 1;
    if (randomLow === LOW_LIMIT) {
      randomLow = 0;
      randomHigh = (randomHigh + 1) % HIGH_LIMIT;
    }
  } else {
    lastTime = now;
    const bytes = randomBytes(10);
    randomHigh = bytes.readUIntBE(0, 6) * 4 + (bytes[6]! & 3);
    randomLow = bytes.readUIntBE(7, 3) * 64 + (bytes[6]! >> 2);
  }
  return `${prefix}_${encode(now, 10)}${encode(randomHigh, 10)}${encode(randomLow, 6)}`;
}

/** `digits` base-32 characters of a non-negative integer below 2^53. */
function encode(value: number, digits: number): string {
  let out = '';
  for (let i = 0; i < digits; i++) {
    out = ALPHABET[value % 32]! + out;
    value = Math.floor(value / 32);
  }
  return out;
}
