import { isIP } from 'node:net';

/** What is kept of a hit's address (MAILTRAIL_IP_STORAGE); classification always sees the full address. */
export type IpStorage = 'full' | 'truncated' | 'none';
export const IP_STORAGE_MODES: readonly IpStorage[] = ['full', 'truncated', 'none'];

/**
 * The address of the client behind a request. Forwarding headers are believed only when the socket's peer is a
 * proxy the operator trusts (MAILTRAIL_TRUST_PROXY), and then only as far as the chain stays inside trusted proxies:
 * the right-most address that is not a trusted proxy is the client, since anything left of it was written by the
 * client itself. `Forwarded` (RFC 7239) is read when present, `X-Forwarded-For` otherwise.
 */
export function clientIp(peer: string, headers: { get(name: string): string | null | undefined }, trusted: { has(address: string): boolean }): string {
  const socket = normalize(peer) ?? peer;
  if (!trusted.has(socket)) return socket;
  const forwarded = headers.get('forwarded');
  const chain = forwarded ? forwardedFor(forwarded) : (headers.get('x-forwarded-for') ?? '').split(',').map((part) => normalize(part));
  let client = socket;
  for (let index = chain.length - 1; index >= 0; index--) {
    const hop = chain[index];
    // An unreadable hop (a name, "unknown", junk) ends what can be believed: the last good address stands.
    if (hop === null || hop === undefined) break;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}

/** The `for=` parameters of a Forwarded header, in order (RFC 7239 §4, §6: quoted IPv6 in brackets, optional port). */
function forwardedFor(header: string): (string | null)[] {
  const hops: (string | null)[] = [];
  for (const element of header.split(',')) {
    const pair = element.split(';').map((part) => part.trim()).find((part) => part.toLowerCase().startsWith('for='));
    if (pair === undefined) continue;
    hops.push(normalize(pair.slice(4).replace(/^"(.*)"$/, '$1')));
  }
  return hops;
}

/** An address without brackets, port or IPv4-mapped prefix; null when it is not an IP address. */
function normalize(text: string): string | null {
  let value = text.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(':'));
  const zone = value.indexOf('%');
  if (zone !== -1 && isIP(value.slice(0, zone)) === 6) value = value.slice(0, zone);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(value);
  if (mapped) value = mapped[1]!;
  return isIP(value) === 0 ? null : value.toLowerCase();
}

/** What is stored of an address: all of it, its /24 (IPv4) or /48 (IPv6) network, or nothing. */
export function storedIp(ip: string, mode: IpStorage): string | null {
  if (mode === 'none') return null;
  const address = normalize(ip);
  if (address === null) return null;
  if (mode === 'full') return address;
  if (isIP(address) === 4) return address.replace(/\.\d+$/, '.0');
  return `${expandIpv6(address).slice(0, 3).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::`;
}

/** The eight groups of an IPv6 address, `::` expanded (an embedded IPv4 tail becomes two groups). */
function expandIpv6(address: string): string[] {
  let text = address;
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    text = text.slice(0, tail.index) + ((a << 8) | b).toString(16) + ':' + ((c << 8) | d).toString(16);
  }
  const [head = '', rest] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = rest ? rest.split(':') : [];
  const fill = rest === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right];
}
