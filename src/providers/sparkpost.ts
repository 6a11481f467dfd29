import type { ParsedEvent } from '../core/event.js';
import { MailtrailError } from '../core/errors.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { attemptsOf, bounded, dedupeKey, fromIsoTime, fromUnixSeconds, mailtrailIdFrom, mapped, parseJson, rawDedupeKey, recipientOf, record, text } from './fields.js';
import { splitJsonArray } from './json-array.js';
import type { ProviderAdapter } from './types.js';

const STATUS_BY_TYPE: Record<string, Status> = {
  injection: 'sent',
  delivery: 'delivered',
  delay: 'delayed',
  bounce: 'bounced',
  out_of_band: 'bounced',
  policy_rejection: 'rejected',
  generation_failure: 'rejected',
  generation_rejection: 'rejected',
  spam_complaint: 'complaint',
  open: 'opened',
  initial_open: 'opened',
  amp_open: 'opened',
  amp_initial_open: 'opened',
  click: 'clicked',
  amp_click: 'clicked',
  list_unsubscribe: 'unsubscribed',
  link_unsubscribe: 'unsubscribed',
};

/**
 * The top-pixel opens: SparkPost puts one open pixel at the top of a message (event `initial_open`, which clipped
 * messages still load) and one at the bottom (`open`), so one view is reported twice
 * (support.sparkpost.com/docs/tech-resources/open-pixel-location). Marked as echoes: a message counts the larger kind.
 */
const ECHO_OPENS = new Set(['initial_open', 'amp_initial_open']);

/**
 * `bounce_class` → bounce type, from the "Category" column of SparkPost's Bounce Classification Codes
 * (support.sparkpost.com/docs/deliverability/bounce-classification-codes). Its "Admin" category (25 Admin
 * Failure, 26 Smart Send Suppression, 80 Subscribe) is a message SparkPost itself failed by policy; SparkPost
 * counts it with "Hard" as suppression-level, so it is `hard` here. An unlisted class is `undetermined`.
 */
const BOUNCE_TYPE_BY_CLASS: Record<string, BounceType> = {
  '1': 'undetermined',
  '10': 'hard', // Invalid Recipient
  '20': 'soft', // Soft Bounce
  '21': 'soft', // DNS Failure
  '22': 'soft', // Mailbox Full
  '23': 'soft', // Too Large
  '24': 'soft', // Timeout
  '25': 'hard', // Admin Failure
  '26': 'hard', // Smart Send Suppression (Admin)
  '30': 'hard', // Generic Bounce: No RCPT
  '40': 'soft', // Generic Bounce
  '50': 'block', // Mail Block
  '51': 'block', // Spam Block
  '52': 'block', // Spam Content
  '53': 'block', // Prohibited Attachment
  '54': 'block', // Relaying Denied
  '60': 'soft', // Auto-Reply
  '70': 'soft', // Transient Failure
  '80': 'hard', // Subscribe (Admin)
  '90': 'hard', // Unsubscribe
  '100': 'soft', // Challenge-Response
};

/** Engagement events: there `ip_address` is the reader's; in delivery events it is the receiving server's. */
const ENGAGEMENT_KINDS = new Set(['track_event', 'unsubscribe_event']);

/**
 * SparkPost (Bird) event webhooks. A batch is a JSON array of `{"msys": {"<kind>_event": {…}}}`; the test batch
 * sent when a webhook is created or validated is `[{"msys": {}}]`, which holds no event. SparkPost does not sign
 * batches; the pipeline checks the Basic-auth credentials of the integration's URL.
 */
export const sparkpost = {
  id: 'sparkpost',
  displayName: 'SparkPost',
  contentTypes: ['application/json'],
  auth: 'credentials' as const,

  parse(request) {
    const text = request.rawBody.toString('utf8');
    const body = parseJson(text);
    if (!Array.isArray(body)) throw new MailtrailError('MT_ERR_INVALID_BODY', 'the body must be a JSON array of {"msys": {…}} objects');
    const raws = splitJsonArray(text);
    return body.flatMap((item: unknown, index) => {
      const msys = record(record(item)?.msys);
      if (!msys) {
        const what = record(item) ? 'has no "msys" object' : 'is not a JSON object';
        throw new MailtrailError('MT_ERR_INVALID_BODY', `event ${index} ${what}`);
      }
      const raw = raws[index] ?? JSON.stringify(item);
      return Object.entries(msys).map(([kind, value]) => {
        const event = record(value);
        if (!event) throw new MailtrailError('MT_ERR_INVALID_BODY', `event ${index}: msys.${kind} is not a JSON object`);
        return parseEvent(kind, event, raw, request.receivedAt);
      });
    });
  },
} satisfies ProviderAdapter;

function parseEvent(kind: string, event: Record<string, unknown>, raw: string, receivedAt: number): ParsedEvent {
  const nativeType = text(event.type) ?? kind;
  const bounceType = nativeType === 'bounce' || nativeType === 'out_of_band' ? bounceTypeOf(event.bounce_class) : undefined;
  let status: Status | null = mapped(STATUS_BY_TYPE, nativeType) ?? null;
  if (bounceType === 'block') status = 'blocked';

  const eventId = text(event.event_id);
  const engagement = ENGAGEMENT_KINDS.has(kind);
  return {
    status,
    nativeType,
    occurredAt: occurredAtOf(event.timestamp, receivedAt),
    // The documentation's samples give every type the same event_id, so the type is part of the key.
    dedupeKey: eventId ? dedupeKey(`${eventId}:${nativeType}`) : rawDedupeKey(raw),
    // The transmissions API returns the transmission id (`results.id`); `message_id` is never handed to the
    // sender, so it is only the fallback. One transmission has many recipients: the store keys on both.
    providerMessageId: bounded(text(event.transmission_id) ?? text(event.message_id)),
    mailtrailId: mailtrailIdFrom(event.rcpt_meta),
    recipient: recipientOf(event.rcpt_to ?? event.raw_rcpt_to),
    bounceType,
    reason: text(event.raw_reason) ?? text(event.reason),
    attempts: attemptsOf(event.num_retries),
    url: text(event.target_link_url),
    userAgent: text(event.user_agent),
    ip: engagement ? text(event.ip_address) : undefined,
    ...(ECHO_OPENS.has(nativeType) ? { echo: true } : {}),
    raw,
  };
}

/** Webhook events carry Unix seconds (`1427736822`, sometimes as a string); the Events API, ISO 8601. */
function occurredAtOf(timestamp: unknown, receivedAt: number): number {
  const fromSeconds = fromUnixSeconds(timestamp, Number.NaN);
  return Number.isNaN(fromSeconds) ? fromIsoTime(timestamp, receivedAt) : fromSeconds;
}

function bounceTypeOf(bounceClass: unknown): BounceType {
  const key = text(bounceClass);
  return key !== undefined && Object.hasOwn(BOUNCE_TYPE_BY_CLASS, key) ? BOUNCE_TYPE_BY_CLASS[key]! : 'undetermined';
}
