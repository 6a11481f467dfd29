import type { ParsedEvent } from '../core/event.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { bounded, dedupeKey, fromIsoTime, mailtrailIdFrom, parseJsonObject, rawDedupeKey, recipientOf, record, text } from './fields.js';
import type { ProviderAdapter } from './types.js';

/**
 * Bounce `Type` names and their `TypeCode`s, from the postmark.js `BounceType` enum
 * (npm postmark@5.1.0 `dist/client/models/bounces/Bounce.d.ts`). A record may carry either field.
 */
const BOUNCE_TYPE_CODES: Record<string, number> = {
  HardBounce: 1,
  Transient: 2,
  Unsubscribe: 16,
  Subscribe: 32,
  AutoResponder: 64,
  AddressChange: 128,
  DnsError: 256,
  SpamNotification: 512,
  OpenRelayTest: 1024,
  Unknown: 2048,
  SoftBounce: 4096,
  VirusNotification: 8192,
  ChallengeVerification: 16384,
  BadEmailAddress: 100000,
  SpamComplaint: 100001,
  ManuallyDeactivated: 100002,
  Unconfirmed: 100003,
  Blocked: 100006,
  SMTPApiError: 100007,
  InboundError: 100008,
  DMARCPolicy: 100009,
  TemplateRenderingFailed: 100010,
};

/** Permanent failures: the address does not exist, is malformed, or was deactivated. */
const HARD_CODES = new Set([1, 100000, 100002]);
/** Temporary failures: Postmark's own Transient, SoftBounce and DnsError. */
const SOFT_CODES = new Set([2, 256, 4096]);
/** Refused by the receiving side's policy: Postmark's Blocked, and a receiving domain's DMARC policy. */
const BLOCK_CODES = new Set([100006, 100009]);
const SPAM_COMPLAINT_CODE = 100001;
/**
 * Bounce records that report no failure to deliver: an out-of-office or other automatic reply, a subscribe or
 * unsubscribe request, an address change, a challenge, a spam or virus notice, a relay test. Stored as ignored:
 * counted as bounces, they would turn a delivered message into a bounced one.
 */
const NOT_A_FAILURE_CODES = new Set([16, 32, 64, 128, 512, 1024, 8192, 16384]);
/** Postmark refused the message before sending it: unconfirmed sender signature, API error, template failure. */
const REJECTED_CODES = new Set([100003, 100007, 100010]);

/**
 * Postmark webhooks: one JSON event per POST, routed on `RecordType`. Postmark does not sign its webhooks, so
 * the pipeline checks the Basic-auth credentials of the integration's URL.
 */
export const postmark = {
  id: 'postmark',
  displayName: 'Postmark',
  contentTypes: ['application/json'],
  auth: 'credentials' as const,

  parse(request) {
    const raw = request.rawBody.toString('utf8').trim();
    return [parseEvent(parseJsonObject(raw), raw, request.receivedAt)];
  },
} satisfies ProviderAdapter;

function parseEvent(body: Record<string, unknown>, raw: string, receivedAt: number): ParsedEvent {
  const nativeType = recordTypeOf(body);
  const bounceRecord = nativeType === 'Bounce' || nativeType === 'SpamComplaint';
  const code = bounceRecord ? bounceCodeOf(body) : undefined;
  const status = statusOf(nativeType, body, code);
  const bounceId = text(body.ID);
  return {
    status,
    nativeType: nativeType || '(none)',
    occurredAt: fromIsoTime(text(body.DeliveredAt) ?? text(body.BouncedAt) ?? text(body.ReceivedAt) ?? text(body.ChangedAt), receivedAt),
    // Only bounce records have an id of their own. Spam complaints are bounce records too (TypeCode 100001,
    // listed by the bounces API), so both share the `bounce:` namespace.
    dedupeKey: bounceRecord && bounceId ? dedupeKey(`bounce:${bounceId}`) : rawDedupeKey(raw),
    providerMessageId: bounded(text(body.MessageID)),
    mailtrailId: mailtrailIdFrom(body.Metadata),
    recipient: recipientOf(body.Recipient ?? body.Email),
    bounceType: status === 'bounced' || status === 'blocked' ? bounceTypeOf(code) : undefined,
    reason: text(body.Details) ?? text(body.Description) ?? text(body.SuppressionReason),
    url: nativeType === 'Click' ? text(body.OriginalLink) : undefined,
    userAgent: text(body.UserAgent),
    ip: text(record(body.Geo)?.IP),
    raw,
  };
}

/** The official Bounce sample (postmarkapp.com/email-webhooks) predates `RecordType`: its `Type`/`TypeCode` say what it is. */
function recordTypeOf(body: Record<string, unknown>): string {
  const recordType = text(body.RecordType);
  if (recordType) return recordType;
  return body.TypeCode !== undefined || body.Type !== undefined ? 'Bounce' : '';
}

function bounceCodeOf(body: Record<string, unknown>): number | undefined {
  if (typeof body.TypeCode === 'number') return body.TypeCode;
  const name = text(body.Type);
  return name !== undefined && Object.hasOwn(BOUNCE_TYPE_CODES, name) ? BOUNCE_TYPE_CODES[name] : undefined;
}

function statusOf(nativeType: string, body: Record<string, unknown>, code: number | undefined): Status | null {
  switch (nativeType) {
    case 'Delivery':
      return 'delivered';
    case 'Bounce':
      if (code === SPAM_COMPLAINT_CODE) return 'complaint';
      if (code !== undefined && NOT_A_FAILURE_CODES.has(code)) return null;
      if (code !== undefined && REJECTED_CODES.has(code)) return 'rejected';
      return code !== undefined && BLOCK_CODES.has(code) ? 'blocked' : 'bounced';
    case 'SpamComplaint':
      return 'complaint';
    case 'Open':
      return 'opened';
    case 'Click':
      return 'clicked';
    case 'SubscriptionChange':
      return subscriptionStatusOf(body);
    default:
      return null;
  }
}

/**
 * Postmark suppresses an address after a hard bounce, a spam complaint or a manual suppression, and "if a
 * recipient unsubscribes, they will be suppressed with the SuppressionReason of ManualSuppression"
 * (postmarkapp.com/developer/webhooks/subscription-change-webhook). Only that one is an unsubscribe: the bounce
 * and the complaint arrive as their own records. A reactivation (`SuppressSending: false`) has no status.
 */
function subscriptionStatusOf(body: Record<string, unknown>): Status | null {
  if (body.SuppressSending !== true) return null;
  const reason = text(body.SuppressionReason);
  return reason === 'HardBounce' || reason === 'SpamComplaint' ? null : 'unsubscribed';
}

function bounceTypeOf(code: number | undefined): BounceType {
  if (code === undefined) return 'undetermined';
  if (HARD_CODES.has(code)) return 'hard';
  if (SOFT_CODES.has(code)) return 'soft';
  if (BLOCK_CODES.has(code)) return 'block';
  return 'undetermined';
}
