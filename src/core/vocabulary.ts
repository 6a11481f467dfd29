/** The eleven normalized statuses; the only ones the API, the feed and outbound events use. */
export const STATUSES = [
  'sent',
  'delivered',
  'delayed',
  'bounced',
  'blocked',
  'dropped',
  'rejected',
  'complaint',
  'opened',
  'clicked',
  'unsubscribed',
] as const;

export type Status = (typeof STATUSES)[number];

/** Statuses that describe where the message is in delivery, as opposed to what the recipient did with it. */
export const DELIVERY_STATUSES = ['sent', 'delayed', 'delivered', 'bounced', 'blocked', 'dropped', 'rejected'] as const;

export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const BOUNCE_TYPES = ['hard', 'soft', 'block', 'undetermined'] as const;

export type BounceType = (typeof BOUNCE_TYPES)[number];

export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}

export function isDeliveryStatus(value: unknown): value is DeliveryStatus {
  return typeof value === 'string' && (DELIVERY_STATUSES as readonly string[]).includes(value);
}

/**
 * Tie-break between delivery outcomes that carry the same `occurredAt`. Providers often stamp a whole
 * sequence with one second (SendGrid timestamps are whole seconds), so a later stage must win a tie:
 * a final outcome beats `delivered`, which beats `delayed`, which beats `sent`.
 */
export const DELIVERY_PRECEDENCE: Record<DeliveryStatus, number> = {
  sent: 1,
  delayed: 2,
  delivered: 3,
  blocked: 4,
  dropped: 5,
  rejected: 6,
  bounced: 7,
};
