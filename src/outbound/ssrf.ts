import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { networkSet, parseCidrs } from '../net/cidrs.js';

/**
 * Addresses an outbound webhook must not reach unless the operator allows them: loopback, private, link-local
 * (cloud metadata lives there), CGNAT, multicast, reserved and unspecified ranges, IPv4 and IPv6. BlockList also
 * matches IPv4-mapped IPv6 forms (::ffff:10.0.0.1) against the IPv4 rules.
 */
const FORBIDDEN: [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 96, 'ipv6'],
  ['::ffff:0:0:0', 96, 'ipv6'],
  ['2001::', 32, 'ipv6'],
  ['2002::', 16, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['100::', 64, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

export interface SsrfPolicy {
  /** MAILTRAIL_WEBHOOK_ALLOW_PRIVATE: every address is allowed. */
  allowPrivate: boolean;
  /** CIDRs allowed even though they are in a forbidden range (MAILTRAIL_WEBHOOK_ALLOWED_CIDRS). */
  allowedCidrs: string[];
}

export class SsrfRefusal extends Error {
  constructor(readonly address: string) {
    super(`refused to connect to ${address}: a private, loopback, link-local or reserved address (set MAILTRAIL_WEBHOOK_ALLOW_PRIVATE or MAILTRAIL_WEBHOOK_ALLOWED_CIDRS to allow it)`);
    this.name = 'SsrfRefusal';
  }
}

export function createAddressGuard(policy: SsrfPolicy) {
  const forbidden = new BlockList();
  for (const [network, prefix, type] of FORBIDDEN) forbidden.addSubnet(network, prefix, type);
  const allowed = networkSet(policy.allowedCidrs);
  const permitted = (address: string): boolean => {
    if (policy.allowPrivate) return true;
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    return !forbidden.check(address, type) || allowed.has(address);
  };

  /**
   * A `lookup` for http.request: the check happens on the addresses the connection will use, after DNS, so a
   * name that resolves to a private address (or rebinds to one) is refused all the same.
   */
  const lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const list = addresses as LookupAddress[];
      const refused = list.find((entry) => !permitted(entry.address));
      if (refused) return callback(new SsrfRefusal(refused.address), '', 0);
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, list);
      const first = list[0]!;
      callback(null, first.address, first.family);
    });
  };
  return { permitted, lookup };
}

/** Reads MAILTRAIL_WEBHOOK_ALLOWED_CIDRS; a bad entry is a configuration error. */
export function parseAllowedCidrs(text: string | undefined): string[] {
  return parseCidrs(text, 'MAILTRAIL_WEBHOOK_ALLOWED_CIDRS');
}
