import { readFileSync } from 'node:fs';
import { MailtrailError } from '../core/errors.js';
import { compileCidrTable, parseCidr, type CidrTable } from './cidr.js';

/**
 * What an address range tells the classifier, never enough on its own except for `security-gateway`:
 * - `security-gateway`: a mail security service's own network (Exchange Online Protection, Mimecast, …). People do
 *   not browse from it; its link and image fetches are scans. Machine on its own.
 * - `apple-proxy`: Apple's network or iCloud Private Relay egress. Mail Privacy Protection fetches images from it,
 *   but people browse through Private Relay too, so it counts only with a User-Agent that names no browser.
 * - `image-proxy`: a webmail image proxy's network. The proxy fetches on the reader's behalf: a person's open,
 *   unless it comes at delivery.
 * - `cloud`: a hosting provider. Scanners run there, and so do people's VPNs: it counts only beside another signal.
 */
export const RANGE_ROLES = ['security-gateway', 'apple-proxy', 'image-proxy', 'cloud'] as const;
export type RangeRole = (typeof RANGE_ROLES)[number];

/** One range of the file: the block, what it is for the classifier, whose it is, and where that is published. */
export interface MachineRange {
  cidr: string;
  role: RangeRole;
  owner: string;
  what: string;
  source: string;
}

/** The ranges file (`src/engagement/data/machine-ranges.json` ships; an operator may supply their own). */
export interface MachineRangesFile {
  updatedAt: string;
  ranges: MachineRange[];
}

/** A range as the classifier sees it after a lookup. */
export interface RangeMatch {
  role: RangeRole;
  owner: string;
}

/** The compiled form: one binary search per lookup. */
export type CompiledRanges = CidrTable<RangeMatch>;

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/**
 * Validates a ranges file (already parsed from JSON), throwing `MT_ERR_CONFIG` that names the first bad field.
 * @example
 * const ranges = parseMachineRanges({ updatedAt: '2026-12-03', ranges: [] });
 */
export function parseMachineRanges(input: unknown, origin = 'machine ranges'): MachineRangesFile {
  const fail = (message: string): never => {
    throw new MailtrailError('MT_ERR_CONFIG', `${origin}: ${message}`);
  };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) fail('must be a JSON object with "updatedAt" and "ranges"');
  const file = input as Record<string, unknown>;
  if (typeof file.updatedAt !== 'string' || !DATE.test(file.updatedAt) || Number.isNaN(Date.parse(file.updatedAt))) {
    fail('"updatedAt" must be the date the ranges were last checked, as YYYY-MM-DD');
  }
  if (!Array.isArray(file.ranges)) fail('"ranges" must be an array');
  const ranges = (file.ranges as unknown[]).map((item, index): MachineRange => {
    const at = `ranges[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) return fail(`${at} must be an object`);
    const range = item as Record<string, unknown>;
    if (typeof range.cidr !== 'string' || parseCidr(range.cidr) === null) {
      fail(`${at}.cidr ${JSON.stringify(range.cidr)} is not an IPv4 or IPv6 CIDR block with no bits set past the prefix (e.g. "192.0.2.0/24")`);
    }
    if (!RANGE_ROLES.includes(range.role as RangeRole)) fail(`${at}.role ${JSON.stringify(range.role)} must be one of ${RANGE_ROLES.join(', ')}`);
    for (const field of ['owner', 'what', 'source'] as const) {
      if (typeof range[field] !== 'string' || (range[field] as string).trim() === '') fail(`${at}.${field} must be a non-empty string`);
    }
    return { cidr: range.cidr as string, role: range.role as RangeRole, owner: range.owner as string, what: range.what as string, source: range.source as string };
  });
  return { updatedAt: file.updatedAt as string, ranges };
}

/**
 * Reads and validates an operator's replacement ranges file.
 * @example
 * const classify = createClassifier({ ranges: loadMachineRanges('/etc/mailtrail/machine-ranges.json') });
 */
export function loadMachineRanges(path: string): MachineRangesFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new MailtrailError('MT_ERR_CONFIG', `machine ranges file ${path} cannot be read`, { cause });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new MailtrailError('MT_ERR_CONFIG', `machine ranges file ${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  return parseMachineRanges(parsed, `machine ranges file ${path}`);
}

/** Compiles validated ranges for lookups. */
export function compileMachineRanges(file: MachineRangesFile): CompiledRanges {
  return compileCidrTable(file.ranges.map((range) => ({ block: parseCidr(range.cidr)!, value: { role: range.role, owner: range.owner } })));
}
