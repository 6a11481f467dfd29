import { describe, expect, it } from 'vitest';
import { newId } from './ids.js';

describe('newId', () => {
  it('is prefixed, 26 characters of Crockford base32 after the prefix', () => {
    expect(newId('evt')).toMatch(/^evt_[0-9a-hjkmnp-tv-z]{26}$/);
  });
  it('sorts by creation, also within one millisecond and when the clock steps back', () => {
    const ids = [newId('msg', 1000), newId('msg', 1000), newId('msg', 999), newId('msg', 1001)];
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });
  it('encodes the creation time in its first ten characters', () => {
    const time = 4_000_000_000_000; // later than any id made before in this process
    const encoded = newId('env', time).slice(4, 14);
    const decoded = [...encoded].reduce((value, char) => value * 32 + '0123456789abcdefghjkmnpqrstvwxyz'.indexOf(char), 0);
    expect(decoded).toBe(time);
  });
});
