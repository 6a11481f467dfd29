import { describe, expect, it } from 'vitest';
import { createAddressGuard, parseAllowedCidrs } from './ssrf.js';

describe('the outbound address guard', () => {
  const guard = createAddressGuard({ allowPrivate: false, allowedCidrs: [] });

  it.each([
    '127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd00:ec2::254', 'ff02::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '::7f00:1', '2002:7f00:1::', '2001::1', '64:ff9b::a00:1',
  ])('refuses %s', (address) => {
    expect(guard.permitted(address)).toBe(false);
  });

  it.each(['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:93.184.216.34'])('allows the public address %s', (address) => {
    expect(guard.permitted(address)).toBe(true);
  });

  it('allows what the operator lists, and everything with the allowance', () => {
    const listed = createAddressGuard({ allowPrivate: false, allowedCidrs: parseAllowedCidrs('10.1.2.0/24, ::1') });
    expect(listed.permitted('10.1.2.9')).toBe(true);
    expect(listed.permitted('10.1.3.9')).toBe(false);
    expect(listed.permitted('::1')).toBe(true);
    expect(createAddressGuard({ allowPrivate: true, allowedCidrs: [] }).permitted('127.0.0.1')).toBe(true);
    expect(() => parseAllowedCidrs('10.0.0.0/33')).toThrow(/not an address or CIDR/);
    expect(() => parseAllowedCidrs('intranet')).toThrow(/not an address or CIDR/);
  });
});
