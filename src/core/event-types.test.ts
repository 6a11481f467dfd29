import { describe, expect, it } from 'vitest';
import { ENDPOINT_EVENT_TYPES, subscribesTo } from './event-types.js';
import { STATUSES } from './vocabulary.js';

describe('endpoint event types', () => {
  it('lists the eleven email types, the four aliases and *', () => {
    expect(ENDPOINT_EVENT_TYPES).toHaveLength(16);
    expect(ENDPOINT_EVENT_TYPES).toContain('email.complaint');
    expect(ENDPOINT_EVENT_TYPES).toContain('message.failed');
  });

  it('matches exact types, aliases and *', () => {
    expect(subscribesTo(['email.delivered'], 'delivered')).toBe(true);
    expect(subscribesTo(['email.delivered'], 'opened')).toBe(false);
    expect(subscribesTo(['message.seen'], 'opened')).toBe(true);
    expect(subscribesTo(['message.seen'], 'clicked')).toBe(false);
    expect(STATUSES.filter((status) => subscribesTo(['message.failed'], status))).toEqual(['bounced', 'blocked', 'dropped', 'rejected']);
    expect(STATUSES.every((status) => subscribesTo(['*'], status))).toBe(true);
    expect(subscribesTo(['constructor', 'toString'], 'sent')).toBe(false);
    expect(subscribesTo([], 'sent')).toBe(false);
  });
});
