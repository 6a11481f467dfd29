import { BlockList, isIP } from 'node:net';

/** Reads a comma-separated list of addresses and CIDRs from the setting `name`; a bad entry is a configuration error. */
export function parseCidrs(text: string | undefined, name: string): string[] {
  if (!text) return [];
  return text.split(',').map((part) => {
    const cidr = part.trim();
    const [network = '', prefix] = cidr.split('/');
    const version = isIP(network);
    const max = version === 6 ? 128 : 32;
    if (version === 0 || (prefix !== undefined && (!/^\d{1,3}$/.test(prefix) || Number(prefix) > max))) {
      throw new Error(`${name}: "${cidr}" is not an address or CIDR`);
    }
    return cidr;
  });
}

/** A set of networks: `has(address)` for IPv4 and IPv6, IPv4-mapped IPv6 forms matching their IPv4 networks. */
export function networkSet(cidrs: readonly string[]): { has(address: string): boolean } {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [network = '', prefix = ''] = cidr.split('/');
    const type = isIP(network) === 6 ? 'ipv6' : 'ipv4';
    list.addSubnet(network, Number(prefix || (type === 'ipv6' ? 128 : 32)), type);
  }
  return {
    has(address) {
      const version = isIP(address);
      return version !== 0 && list.check(address, version === 6 ? 'ipv6' : 'ipv4');
    },
  };
}
