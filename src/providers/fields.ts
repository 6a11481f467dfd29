import { createHash, timingSafeEqual } from 'node:crypto';
import { MailtrailError } from '../core/errors.js';
import { DEFAULT_STATUS_MAPPING, type StatusMapping } from '../core/status-mapping.js';
import type { Status } from '../core/vocabulary.js';
import type { VerifyFailure } from './types.js';

// Reading provider payloads: the same few rules for every adapter, so that every provider's events are as
// storable and as comparable as every other's.

/** Keys and ids go into database indexes, whose entries have a size limit. */
export const MAX_KEY = 255;
/** RFC 5321's limit for an address. */
export const MAX_ADDRESS = 320;

/** A payload field as text; numbers become their decimal text and an empty string counts as absent. */
export function text(value: unknown): string | undefined {
  const string = typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
  return string === '' ? undefined : string;
}

/** A value that fits in an index, or absent. */
export function bounded(value: string | undefined, max = MAX_KEY): string | undefined {
  return value !== undefined && value.length <= max ? value : undefined;
}

/** A recipient address as Mailtrail keys it: lower-case, within the address limit. */
export function recipientOf(value: unknown): string | undefined {
  return bounded(text(value)?.trim().toLowerCase(), MAX_ADDRESS);
}

/** A dedupe key that fits in the index: a longer one is replaced by its hash. */
export function dedupeKey(key: string): string {
  return key.length <= MAX_KEY ? key : `sha256-id:${sha256(key)}`;
}

/** The fallback dedupe key of an event with no id of its own: a hash of its exact raw text. */
export function rawDedupeKey(raw: string): string {
  return `sha256:${sha256(raw)}`;
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/** No clock produces a time before 1970 or after the year 5000: such a value is treated as absent. */
const LATEST_MS = 95_617_584_000_000;

/** Unix seconds (a number or a decimal string, fractions allowed) as epoch ms, or `fallback`. */
export function fromUnixSeconds(value: unknown, fallback: number): number {
  const seconds = typeof value === 'string' && /^\d+(\.\d+)?$/.test(value) ? Number(value) : value;
  if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return fallback;
  const ms = Math.round(seconds * 1000);
  return ms > 0 && ms < LATEST_MS ? ms : fallback;
}

/** An ISO 8601 / RFC 3339 time as epoch ms, or `fallback`. */
export function fromIsoTime(value: unknown, fallback: number): number {
  if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) return fallback;
  const ms = Date.parse(value);
  return Number.isFinite(ms) && ms > 0 && ms < LATEST_MS ? ms : fallback;
}

/** A retry count, when it is a sane non-negative integer. */
export function attemptsOf(value: unknown): number | undefined {
  const number = typeof value === 'number' ? value : typeof value === 'string' && /^\d{1,9}$/.test(value) ? Number(value) : Number.NaN;
  return Number.isInteger(number) && number >= 0 && number <= 1_000_000 ? number : undefined;
}

/** A JSON object, or undefined. */
export function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** Parses a JSON body, failing with MT_ERR_INVALID_BODY. */
export function parseJson(textBody: string): unknown {
  try {
    return JSON.parse(textBody);
  } catch {
    throw new MailtrailError('MT_ERR_INVALID_BODY', 'the body is not valid JSON');
  }
}

/** A body that must be one JSON object. */
export function parseJsonObject(textBody: string): Record<string, unknown> {
  const body = record(parseJson(textBody));
  if (!body) throw new MailtrailError('MT_ERR_INVALID_BODY', 'the body must be a JSON object');
  return body;
}

/** Metadata maps may hold our id under `mailtrail_id`; only a string (or number) counts. */
export function mailtrailIdFrom(metadata: unknown): string | undefined {
  return bounded(text(record(metadata)?.mailtrail_id));
}

/** A provider's name looked up in a mapping table; names such as `constructor` are not the table's own keys. */
export function mapped<T>(table: Readonly<Record<string, T>>, name: string): T | undefined {
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/**
 * An event's status under the integration's mapping: with `contract`, a native event the contract's table lists
 * takes the table's status; any other event, and every event under `precise`, keeps the adapter's own status.
 */
export function statusUnder(mapping: StatusMapping | undefined, contract: ReadonlyMap<string, Status>, nativeType: string, precise: Status | null): Status | null {
  return (mapping ?? DEFAULT_STATUS_MAPPING) === 'contract' ? (contract.get(nativeType) ?? precise) : precise;
}

/** A signature header or field that is not there. */
export function signatureMissing(reason: string): VerifyFailure {
  return { ok: false, code: 'MT_ERR_SIGNATURE_MISSING', reason };
}

/** A signature that is there and does not verify. */
export function signatureInvalid(reason: string): VerifyFailure {
  return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason };
}

/** Two signatures compared in constant time; ones of different lengths simply differ. */
export function sameBytes(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}
