import { MailtrailError } from '../core/errors.js';

/** Seconds to wait before each attempt after the first: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (8 attempts in all). */
export const DEFAULT_RETRY_SCHEDULE: readonly number[] = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];
/** Throttled (429) and timed-out attempts wait at least this long before the next one. */
export const MIN_WAIT_AFTER_THROTTLE_MS = 60_000;
/** A Retry-After longer than this is not honoured as such. */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** `MAILTRAIL_RETRY_SCHEDULE`: comma-separated seconds between attempts, the first being the wait before the first. */
export function parseRetrySchedule(text: string | undefined): readonly number[] {
  if (text === undefined || text.trim() === '') return DEFAULT_RETRY_SCHEDULE;
  const values = text.split(',').map((part) => part.trim());
  if (values.length === 0 || values.length > 50 || !values.every((value) => /^\d{1,7}(\.\d+)?$/.test(value))) {
    throw new MailtrailError('MT_ERR_CONFIG', `MAILTRAIL_RETRY_SCHEDULE must be comma-separated seconds, such as 0,5,300, got "${text}"`);
  }
  return values.map(Number);
}

/**
 * When the attempt after `attempts` finished ones is due, or null when the schedule is used up. ±20 % jitter
 * spreads retries of many deliveries that failed together; Retry-After is honoured within bounds.
 */
export function nextAttemptAt(
  schedule: readonly number[],
  attempts: number,
  now: number,
  options: { retryAfterMs?: number | null; throttled?: boolean; random?: () => number } = {},
): number | null {
  if (attempts >= schedule.length) return null;
  const random = options.random ?? Math.random;
  let wait = schedule[attempts]! * 1000 * (0.8 + 0.4 * random());
  if (options.retryAfterMs !== undefined && options.retryAfterMs !== null) wait = Math.max(wait, Math.min(options.retryAfterMs, MAX_RETRY_AFTER_MS));
  if (options.throttled) wait = Math.max(wait, MIN_WAIT_AFTER_THROTTLE_MS);
  return Math.round(now + wait);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(header: string | undefined, now: number): number | null {
  if (!header) return null;
  if (/^\d{1,9}$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isFinite(date) ? Math.max(0, date - now) : null;
}
