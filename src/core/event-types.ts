import { STATUSES, type Status } from './vocabulary.js';

/**
 * The names existing notification platforms use for groups of statuses; an endpoint may subscribe to these as
 * well as to `email.<status>` and `*`. The delivered payload's `type` is always `email.<status>`.
 */
export const EVENT_TYPE_ALIASES: Readonly<Record<string, readonly Status[]>> = {
  'message.sent': ['sent'],
  'message.delivered': ['delivered'],
  'message.seen': ['opened'],
  'message.failed': ['bounced', 'blocked', 'dropped', 'rejected'],
};

/** Every event type an outbound endpoint can subscribe to. */
export const ENDPOINT_EVENT_TYPES: readonly string[] = [...STATUSES.map((status) => `email.${status}`), ...Object.keys(EVENT_TYPE_ALIASES), '*'];

/** True when an endpoint subscribed to `eventTypes` wants events of this status. */
export function subscribesTo(eventTypes: readonly string[], status: Status): boolean {
  return eventTypes.some(
    (type) => type === '*' || type === `email.${status}` || (Object.hasOwn(EVENT_TYPE_ALIASES, type) && EVENT_TYPE_ALIASES[type]!.includes(status)),
  );
}
