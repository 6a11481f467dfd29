/**
 * IPv4 and IPv6 addresses and CIDR blocks, parsed by hand (no regular expression, no allocation for IPv4) because a
 * lookup runs on every pixel and link hit. A table is compiled once into sorted, disjoint intervals, so a lookup is
 * one parse and one binary search.
 */

/** The numeric value of an IPv4 address (0 … 2³²−1), or `null` when `text` is not dotted-quad IPv4. */
export function parseIPv4(text: string, from = 0, to = text.length): number | null {
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let index = from; index < to; index++) {
    const code = text.charCodeAt(index);
    if (code === 46) {
      if (digits === 0 || dots === 3) return null;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (code >= 48 && code <= 57) {
      // "01" is refused: some parsers read a leading zero as octal, so its meaning is ambiguous.
      if (digits > 0 && octet === 0) return null;
      octet = octet * 10 + (code - 48);
      if (octet > 255) return null;
      digits++;
    } else {
      return null;
    }
  }
  if (digits === 0 || dots !== 3) return null;
  return value * 256 + octet;
}

/** The numeric value of an IPv6 address (a zone such as `%eth0` is ignored), or `null` when `text` is not IPv6. */
export function parseIPv6(text: string): bigint | null {
  const zone = text.indexOf('%');
  const end = zone === -1 ? text.length : zone;
  if (end < 2 || end > 45) return null;
  const groups: number[] = [];
  let gap = -1;
  let index = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return null;
    gap = 0;
    index = 2;
  }
  while (index < end) {
    let group = 0;
    let digits = 0;
    const start = index;
    while (index < end && digits <= 4) {
      const hex = hexValue(text.charCodeAt(index));
      if (hex < 0) break;
      group = group * 16 + hex;
      digits++;
      index++;
    }
    if (index < end && text.charCodeAt(index) === 46) {
      // An embedded IPv4 tail (::ffff:192.0.2.1) fills the last two groups.
      const v4 = parseIPv4(text, start, end);
      if (v4 === null || groups.length > 6) return null;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
      index = end;
      break;
    }
    if (digits === 0 || digits > 4) return null;
    groups.push(group);
    if (index === end) break;
    if (text.charCodeAt(index) !== 58) return null;
    index++;
    if (index < end && text.charCodeAt(index) === 58) {
      if (gap !== -1) return null;
      gap = groups.length;
      index++;
    } else if (index === end) {
      return null;
    }
  }
  if (gap === -1 ? groups.length !== 8 : groups.length > 7) return null;
  let value = 0n;
  const missing = 8 - groups.length;
  for (let position = 0; position < groups.length; position++) {
    if (position === gap) value <<= BigInt(16 * missing);
    value = (value << 16n) | BigInt(groups[position]!);
  }
  if (gap === groups.length) value <<= BigInt(16 * missing);
  return value;
}

function hexValue(code: number): number {
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 102) return code - 87;
  if (code >= 65 && code <= 70) return code - 55;
  return -1;
}

/** A parsed CIDR block: its family and its first and last address. */
export interface CidrBlock {
  family: 4 | 6;
  first: bigint;
  last: bigint;
}

/** Parses `192.0.2.0/24` or `2001:db8::/32`; `null` when malformed or when bits are set past the prefix. */
export function parseCidr(text: string): CidrBlock | null {
  const slash = text.indexOf('/');
  if (slash === -1 || slash === text.length - 1 || text.length - slash > 4) return null;
  const prefixText = text.slice(slash + 1);
  if (!/^\d+$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  const address = text.slice(0, slash);
  const v4 = parseIPv4(address);
  const family = v4 !== null ? 4 : 6;
  const value = v4 !== null ? BigInt(v4) : parseIPv6(address);
  const width = family === 4 ? 32 : 128;
  if (value === null || prefix > width) return null;
  const hostBits = BigInt(width - prefix);
  const hostMask = (1n << hostBits) - 1n;
  // A block written with host bits set (10.0.0.1/8) is almost always a typo for a different block: refuse it.
  if ((value & hostMask) !== 0n) return null;
  return { family, first: value, last: value | hostMask };
}

/** A compiled set of CIDR blocks, each carrying a value; the most specific block wins where blocks nest. */
export interface CidrTable<T> {
  /** The value of the most specific block holding `ip`, or `undefined` (also for anything that is not an address). */
  lookup(ip: string): T | undefined;
}

interface Interval {
  first: bigint;
  last: bigint;
  entry: number;
}

/** Compiles blocks into a table. CIDR blocks either nest or are disjoint, which the sweep below relies on. */
export function compileCidrTable<T>(blocks: { block: CidrBlock; value: T }[]): CidrTable<T> {
  const values = blocks.map((item) => item.value);
  const v4 = disjoint(blocks.map((item, entry) => ({ ...item.block, entry })).filter((block) => block.family === 4));
  const v6 = disjoint(blocks.map((item, entry) => ({ ...item.block, entry })).filter((block) => block.family === 6));
  const v4First = Float64Array.from(v4, (interval) => Number(interval.first));
  const v4Last = Float64Array.from(v4, (interval) => Number(interval.last));
  const v4Entry = Int32Array.from(v4, (interval) => interval.entry);
  const v6First = v6.map((interval) => interval.first);
  const v6Last = v6.map((interval) => interval.last);
  const v6Entry = Int32Array.from(v6, (interval) => interval.entry);

  return {
    lookup(ip) {
      if (typeof ip !== 'string' || ip.length === 0 || ip.length > 64) return undefined;
      if (ip.indexOf(':') === -1) {
        const address = parseIPv4(ip);
        return address === null ? undefined : at(search(v4First, v4Last, address), v4Entry);
      }
      const address = parseIPv6(ip);
      if (address === null) return undefined;
      // Dual-stack sockets report IPv4 clients as ::ffff:a.b.c.d; they are IPv4 clients.
      if (address >> 32n === 0xffffn) return at(search(v4First, v4Last, Number(address & 0xffffffffn)), v4Entry);
      return at(search(v6First, v6Last, address), v6Entry);
    },
  };

  function at(position: number, entries: Int32Array): T | undefined {
    return position === -1 ? undefined : values[entries[position]!];
  }
}

function disjoint(blocks: Interval[]): Interval[] {
  // Wider blocks first at the same start, so a nested block always comes after the block that holds it.
  const sorted = [...blocks].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.last > b.last ? -1 : a.last < b.last ? 1 : 0));
  const out: Interval[] = [];
  const open: Interval[] = [];
  let cursor = 0n;
  const emit = (first: bigint, last: bigint, entry: number) => {
    if (first <= last) out.push({ first, last, entry });
  };
  for (const block of sorted) {
    while (open.length > 0 && open[open.length - 1]!.last < block.first) {
      const done = open.pop()!;
      emit(cursor, done.last, done.entry);
      cursor = done.last + 1n;
    }
    if (open.length > 0) emit(cursor, block.first - 1n, open[open.length - 1]!.entry);
    cursor = block.first;
    open.push(block);
  }
  while (open.length > 0) {
    const done = open.pop()!;
    emit(cursor, done.last, done.entry);
    cursor = done.last + 1n;
  }
  return out;
}

// One binary search for both families: numbers for IPv4 (no BigInt on the hot path), bigints for IPv6.
function search<T extends number | bigint>(first: ArrayLike<T>, last: ArrayLike<T>, address: T): number {
  let low = 0;
  let high = first.length - 1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (first[middle]! > address) high = middle - 1;
    else if (last[middle]! < address) low = middle + 1;
    else return middle;
  }
  return -1;
}
