import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, nestsDeeperThan } from './json-depth.js';

const nested = (levels: number, open = '[', close = ']', inner = '1') => open.repeat(levels) + inner + close.repeat(levels);

describe('nestsDeeperThan', () => {
  it('accepts nesting up to the limit and refuses one level more', () => {
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(nestsDeeperThan(nested(MAX_JSON_DEPTH + 1))).toBe(true);
  });

  it('counts objects and arrays together', () => {
    const mixed = '{"a":'.repeat(3) + '[[1]]' + '}'.repeat(3);
    expect(nestsDeeperThan(mixed, 5)).toBe(false);
    expect(nestsDeeperThan(mixed, 4)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(nestsDeeperThan(JSON.stringify({ text: '[[[[[[{{{{{{' }), 1)).toBe(false);
    expect(nestsDeeperThan(JSON.stringify({ text: 'a "quoted" [[[[ \\ back' }), 1)).toBe(false);
    expect(nestsDeeperThan(`{"a":"\\\\",${nested(2).slice(0, -2)}]]}`, 2)).toBe(true);
  });

  it('reads bytes as it reads text, multi-byte characters included', () => {
    const text = JSON.stringify({ name: 'Zoë 🎉 [[[', deep: JSON.parse(nested(10)) as unknown });
    expect(nestsDeeperThan(Buffer.from(text), 11)).toBe(false);
    expect(nestsDeeperThan(Buffer.from(text), 10)).toBe(true);
  });

  it('scans 100,000 levels without running out of stack', () => {
    expect(nestsDeeperThan(nested(100_000, '{"a":', '}'))).toBe(true);
    expect(nestsDeeperThan(nested(100_000), 100_000)).toBe(false);
  });

  it('never throws on text that is not JSON', () => {
    for (const text of ['', ']]]]', '"unterminated [[[', 'mandrill_events=%5B%7B', '\\']) expect(nestsDeeperThan(text)).toBe(false);
  });
});
