import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCidrTable, parseCidr, parseIPv4, parseIPv6 } from './cidr.js';

describe('parseIPv4', () => {
  it('reads a dotted quad', () => {
    expect(parseIPv4('203.0.113.7')).toBe(((203 * 256 + 0) * 256 + 113) * 256 + 7);
    expect(parseIPv4('0.0.0.0')).toBe(0);
    expect(parseIPv4('255.255.255.255')).toBe(2 ** 32 - 1);
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-4', '01.2.3.4', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1.2.3.4/24'])(
    'refuses %j',
    (text) => expect(parseIPv4(text)).toBeNull(),
  );
});

describe('parseIPv6', () => {
  it.each([
    ['::', 0n],
    ['::1', 1n],
    ['1::', 1n << 112n],
    ['2001:db8::8a2e:370:7334', 0x20010db8000000000000_8a2e03707334n],
    ['2001:0db8:0000:0000:0000:8a2e:0370:7334', 0x20010db8000000000000_8a2e03707334n],
    ['2001:DB8::1', 0x20010db8000000000000000000000001n],
    ['::ffff:192.0.2.1', 0xffffc0000201n],
    ['fe80::1%eth0', 0xfe800000000000000000000000000001n],
    ['1:2:3:4:5:6:7::', 0x00010002000300040005000600070000n],
  ])('reads %s', (text, value) => expect(parseIPv6(text)).toBe(value));

  it.each([':', ':::', '1:2:3:4:5:6:7:8:9', '1::2::3', 'g::1', '12345::1', '1:', ':1', '::ffff:300.0.0.1', '1:2:3:4:5:6:7:1.2.3.4', '', '::1 '])(
    'refuses %j',
    (text) => expect(parseIPv6(text)).toBeNull(),
  );
});

describe('parseCidr', () => {
  it('gives the first and last address of a block', () => {
    expect(parseCidr('192.0.2.0/24')).toEqual({ family: 4, first: 0xc0000200n, last: 0xc00002ffn });
    expect(parseCidr('2001:db8::/32')).toEqual({ family: 6, first: 0x20010db8n << 96n, last: (0x20010db8n << 96n) | ((1n << 96n) - 1n) });
    expect(parseCidr('0.0.0.0/0')).toEqual({ family: 4, first: 0n, last: 2n ** 32n - 1n });
  });

  it.each(['192.0.2.1/24', '192.0.2.0/33', '2001:db8::/129', '192.0.2.0', '192.0.2.0/', '192.0.2.0/x', 'banana/8', '192.0.2.0/-1', '10.0.0.0/08 '])(
    'refuses %j',
    (text) => expect(parseCidr(text)).toBeNull(),
  );
});

describe('compileCidrTable', () => {
  const table = compileCidrTable([
    { block: parseCidr('10.0.0.0/8')!, value: 'wide' },
    { block: parseCidr('10.1.0.0/16')!, value: 'narrow' },
    { block: parseCidr('10.1.2.0/24')!, value: 'narrowest' },
    { block: parseCidr('2001:db8::/32')!, value: 'v6' },
    { block: parseCidr('2001:db8:1::/48')!, value: 'v6-narrow' },
  ]);

  it('answers the most specific block where blocks nest', () => {
    expect(table.lookup('10.0.0.1')).toBe('wide');
    expect(table.lookup('10.1.0.0')).toBe('narrow');
    expect(table.lookup('10.1.2.255')).toBe('narrowest');
    expect(table.lookup('10.1.3.0')).toBe('narrow');
    expect(table.lookup('10.2.0.0')).toBe('wide');
    expect(table.lookup('10.255.255.255')).toBe('wide');
    expect(table.lookup('2001:db8:1::5')).toBe('v6-narrow');
    expect(table.lookup('2001:db8:2::5')).toBe('v6');
  });

  it('answers nothing just outside the blocks', () => {
    expect(table.lookup('9.255.255.255')).toBeUndefined();
    expect(table.lookup('11.0.0.0')).toBeUndefined();
    expect(table.lookup('2001:db7:ffff::1')).toBeUndefined();
  });

  it('matches IPv4 clients reported by a dual-stack socket', () => {
    expect(table.lookup('::ffff:10.1.2.3')).toBe('narrowest');
    expect(table.lookup('::ffff:11.1.2.3')).toBeUndefined();
  });

  it('answers nothing for what is not an address', () => {
    for (const value of ['', 'localhost', '10.1.2', '10.1.2.3.4', '::ffff:', 'x'.repeat(10_000), ' 10.1.2.3', undefined, null, 42, {}]) {
      expect(table.lookup(value as string)).toBeUndefined();
    }
  });

  it('agrees with a plain scan of the blocks on random IPv4 blocks and addresses', () => {
    const block = fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 4, max: 32 })).map(([address, prefix]) => {
      const size = 2 ** (32 - prefix);
      const first = Math.floor(address / size) * size;
      return { first, last: first + size - 1, text: `${[24, 16, 8, 0].map((shift) => Math.floor(first / 2 ** shift) % 256).join('.')}/${prefix}` };
    });
    fc.assert(
      fc.property(fc.array(block, { maxLength: 30 }), fc.array(fc.integer({ min: 0, max: 2 ** 32 - 1 }), { maxLength: 50 }), (blocks, probes) => {
        const compiled = compileCidrTable(blocks.map((item, index) => ({ block: parseCidr(item.text)!, value: index })));
        // Near the edges of the blocks is where a sweep goes wrong.
        const addresses = [...probes, ...blocks.flatMap((item) => [item.first, item.last, item.first - 1, item.last + 1])].filter((a) => a >= 0 && a < 2 ** 32);
        for (const address of addresses) {
          const holding = blocks.map((item, index) => ({ ...item, index })).filter((item) => item.first <= address && address <= item.last);
          const narrowest = Math.min(...holding.map((item) => item.last - item.first));
          const expected = holding.filter((item) => item.last - item.first === narrowest).map((item) => item.index);
          const text = [24, 16, 8, 0].map((shift) => Math.floor(address / 2 ** shift) % 256).join('.');
          const found = compiled.lookup(text);
          if (holding.length === 0) expect(found).toBeUndefined();
          else expect(expected).toContain(found);
        }
      }),
      { numRuns: 300 },
    );
  });
});
