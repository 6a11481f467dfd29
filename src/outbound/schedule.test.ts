import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_SCHEDULE, MIN_WAIT_AFTER_THROTTLE_MS, nextAttemptAt, parseRetrySchedule, retryAfterMs } from './schedule.js';

const NOW = Date.UTC(2026, 10, 22, 12, 0, 0);

describe('the retry schedule', () => {
  it('waits 0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h before the eight attempts, and then gives up', () => {
    expect(DEFAULT_RETRY_SCHEDULE).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    const middle = () => 0.5;
    expect(DEFAULT_RETRY_SCHEDULE.slice(1).map((_, index) => nextAttemptAt(DEFAULT_RETRY_SCHEDULE, index + 1, NOW, { random: middle })! - NOW)).toEqual(
      [5, 300, 1800, 7200, 18000, 36000, 36000].map((seconds) => seconds * 1000),
    );
    expect(nextAttemptAt(DEFAULT_RETRY_SCHEDULE, 8, NOW)).toBeNull();
  });

  it('jitters each wait by at most 20 % either way', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempts, random) => {
        const wait = nextAttemptAt(DEFAULT_RETRY_SCHEDULE, attempts, NOW, { random: () => random })! - NOW;
        const planned = DEFAULT_RETRY_SCHEDULE[attempts]! * 1000;
        expect(wait).toBeGreaterThanOrEqual(Math.floor(planned * 0.8));
        expect(wait).toBeLessThanOrEqual(Math.ceil(planned * 1.2));
      }),
    );
  });

  it('honours Retry-After up to a day, and waits at least a minute after a 429 or a timeout', () => {
    const lowest = { random: () => 0 };
    // longer than the schedule's 5 s: honoured; shorter: the schedule's wait stands
    expect(nextAttemptAt(DEFAULT_RETRY_SCHEDULE, 1, NOW, { ...lowest, retryAfterMs: 120_000 })).toBe(NOW + 120_000);
    expect(nextAttemptAt(DEFAULT_RETRY_SCHEDULE, 2, NOW, { ...lowest, retryAfterMs: 1_000 })).toBe(NOW + 240_000);
    expect(nextAttemptAt(DEFAULT_RETRY_SCHEDULE, 1, NOW, { ...lowest, retryAfterMs: 30 * 24 * 3600_000 })).toBe(NOW + 24 * 3600_000);
    expect(nextAttemptAt(DEFAULT_RETRY_SCHEDULE, 1, NOW, { ...lowest, throttled: true })).toBe(NOW + MIN_WAIT_AFTER_THROTTLE_MS);
    expect(nextAttemptAt(DEFAULT_RETRY_SCHEDULE, 3, NOW, { ...lowest, throttled: true })).toBe(NOW + 1_440_000);
  });

  it('reads Retry-After as seconds or as an HTTP date, and nothing else', () => {
    expect(retryAfterMs('120', NOW)).toBe(120_000);
    expect(retryAfterMs(new Date(NOW + 90_000).toUTCString(), NOW)).toBe(90_000);
    expect(retryAfterMs(new Date(NOW - 90_000).toUTCString(), NOW)).toBe(0);
    expect(retryAfterMs('soon', NOW)).toBeNull();
    expect(retryAfterMs(undefined, NOW)).toBeNull();
  });

  it('takes MAILTRAIL_RETRY_SCHEDULE as comma-separated seconds, and refuses anything else', () => {
    expect(parseRetrySchedule('0,1,1,2')).toEqual([0, 1, 1, 2]);
    expect(parseRetrySchedule(' 0, 0.5 ')).toEqual([0, 0.5]);
    expect(parseRetrySchedule(undefined)).toBe(DEFAULT_RETRY_SCHEDULE);
    expect(parseRetrySchedule('')).toBe(DEFAULT_RETRY_SCHEDULE);
    for (const bad of ['0,-1', '5m', '0,,1', Array(51).fill('1').join(',')]) {
      expect(() => parseRetrySchedule(bad)).toThrow(expect.objectContaining({ code: 'MT_ERR_CONFIG' }));
    }
  });
});
