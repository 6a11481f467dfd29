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

/** One of the eleven normalized statuses. */
export type Status = (typeof STATUSES)[number];

/** Statuses that describe where the message is in delivery, as opposed to what the recipient did with it. */
export const DELIVERY_STATUSES = ['sent', 'delayed', 'delivered', 'bounced', 'blocked', 'dropped', 'rejected'] as const;

/** A status that can be a message's delivery outcome. */
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/**
 * How a bounce is classified: `hard` (permanent, stop sending), `soft` (temporary), `block` (refused by the
 * receiving side's policy, such as SendGrid's `blocked`), or `undetermined` when the provider does not say.
 */
export const BOUNCE_TYPES = ['hard', 'soft', 'block', 'undetermined'] as const;

/** One of BOUNCE_TYPES. */
export type BounceType = (typeof BOUNCE_TYPES)[number];

/** True for one of the eleven normalized statuses. */
export function isStatus(value: unknown): value is Status {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value);
}

/** True for a status that can be a delivery outcome. */
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
