import { describe, expect, it } from 'vitest';
import { networkSet } from '../net/cidrs.js';
import { clientIp, storedIp } from './client-ip.js';

const headers = (values: Record<string, string>) => new Headers(values);
const none = networkSet([]);
const proxies = networkSet(['10.0.0.0/8', '2001:db8:ffff::/48']);

describe('clientIp', () => {
  it('is the socket address when no proxy is trusted, whatever the headers say', () => {
    expect(clientIp('203.0.113.9', headers({ 'x-forwarded-for': '198.51.100.1' }), none)).toBe('203.0.113.9');
    expect(clientIp('203.0.113.9', headers({ forwarded: 'for=198.51.100.1' }), none)).toBe('203.0.113.9');
  });

  it('ignores forwarding headers from a peer that is not a trusted proxy', () => {
    expect(clientIp('203.0.113.9', headers({ 'x-forwarded-for': '198.51.100.1' }), proxies)).toBe('203.0.113.9');
  });

  it('takes the right-most address that is not a trusted proxy', () => {
    const chain = headers({ 'x-forwarded-for': '1.2.3.4, 198.51.100.7, 10.0.0.2' });
    expect(clientIp('10.0.0.1', chain, proxies)).toBe('198.51.100.7');
  });

  it('reads RFC 7239 Forwarded, quoted IPv6 with a port included, before X-Forwarded-For', () => {
    const both = headers({ forwarded: 'for=192.0.2.60;proto=https, for="[2001:db8:cafe::17]:4711"', 'x-forwarded-for': '198.51.100.1' });
    expect(clientIp('10.0.0.1', both, proxies)).toBe('2001:db8:cafe::17');
  });

  it('stops at a hop it cannot read and keeps the last good address', () => {
    expect(clientIp('10.0.0.1', headers({ 'x-forwarded-for': '198.51.100.1, unknown' }), proxies)).toBe('10.0.0.1');
    expect(clientIp('10.0.0.1', headers({ forwarded: 'for=_hidden' }), proxies)).toBe('10.0.0.1');
  });

  it('unwraps IPv4-mapped socket addresses', () => {
    expect(clientIp('::ffff:10.0.0.1', headers({ 'x-forwarded-for': '198.51.100.1' }), proxies)).toBe('198.51.100.1');
    expect(clientIp('::ffff:203.0.113.9', headers({}), none)).toBe('203.0.113.9');
  });
});

describe('storedIp', () => {
  it('keeps the /24 of IPv4 and the /48 of IPv6 by default', () => {
    expect(storedIp('203.0.113.9', 'truncated')).toBe('203.0.113.0');
    expect(storedIp('2001:db8:cafe:1:2:3:4:5', 'truncated')).toBe('2001:db8:cafe::');
    expect(storedIp('2001:db8::1', 'truncated')).toBe('2001:db8:0::');
    expect(storedIp('::ffff:198.51.100.77', 'truncated')).toBe('198.51.100.0');
  });

  it('keeps everything or nothing when told so, and nothing of what is not an address', () => {
    expect(storedIp('2001:DB8::1', 'full')).toBe('2001:db8::1');
    expect(storedIp('203.0.113.9', 'none')).toBeNull();
    expect(storedIp('not an ip', 'full')).toBeNull();
  });
});
