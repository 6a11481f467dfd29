import type { NormalizedEvent } from '../core/event.js';
import { eventView, messageView } from '../views/message.js';
import type { Message } from '../store/types.js';

/**
 * The body Mailtrail posts for an event: `{ type, timestamp, data: { event, message } }`, with the event and its
 * message in the API's own JSON shapes. `timestamp` is when the event happened; the message carries its state as of
 * the attempt. The attempt number is a header, never part of the signed body.
 */
export function renderPayload(event: NormalizedEvent, message: Message | null): string {
  return JSON.stringify({
    type: `email.${event.status}`,
    timestamp: new Date(event.occurredAt).toISOString(),
    data: { event: eventView(event), message: message ? messageView(message) : null },
  });
}

/** The payload of a test request (`POST /v1/webhook-endpoints/:id/test`). */
export function renderTestPayload(now: number): string {
  return JSON.stringify({ type: 'webhook.test', timestamp: new Date(now).toISOString(), data: { message: 'a test event from Mailtrail' } });
}
