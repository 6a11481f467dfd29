import type { ParsedEvent } from '../core/event.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { bounded, dedupeKey, fromIsoTime, mapped, parseJsonObject, rawDedupeKey, recipientOf, record, statusUnder, text } from './fields.js';
import { standardWebhooksHeaders, standardWebhooksKey, verifyStandardWebhook } from './standard-webhooks.js';
import type { InboundRequest, ProviderAdapter, VerifyResult } from './types.js';

const STATUS_BY_TYPE: Record<string, Status> = {
  'email.sent': 'sent',
  'email.delivered': 'delivered',
  'email.delivery_delayed': 'delayed',
  'email.bounced': 'bounced',
  'email.complained': 'complaint',
  'email.opened': 'opened',
  'email.clicked': 'clicked',
  // a send error: Resend did not hand the message to a mail server
  'email.failed': 'rejected',
  // the address is on Resend's suppression list, so nothing was sent
  'email.suppressed': 'dropped',
};

/** The contract's table for Resend (see StatusMapping); it agrees with Mailtrail's own on every event it lists. */
const CONTRACT_STATUS = new Map<string, Status>([
  ['email.bounced', 'bounced'],
  ['email.clicked', 'clicked'],
  ['email.complained', 'complaint'],
  ['email.delivered', 'delivered'],
  ['email.delivery_delayed', 'delayed'],
  ['email.failed', 'rejected'],
  ['email.opened', 'opened'],
  ['email.sent', 'sent'],
]);

/**
 * Resend. Webhooks are delivered by Svix: one event per POST, signed with Standard Webhooks HMAC-SHA256
 * (`svix-id`, `svix-timestamp`, `svix-signature`; secret `whsec_…`), five minutes of clock tolerance.
 * `svix-id` stays the same when Svix retries, so it is the dedupe key.
 */
export const resend = {
  id: 'resend',
  displayName: 'Resend',
  contentTypes: ['application/json'],
  auth: 'signature' as const,

  checkSigningKey(key: string) {
    return standardWebhooksKey(key) ? null : 'the Resend signing secret starts with whsec_ (Webhooks → your endpoint → Signing secret)';
  },

  verify(request: InboundRequest, signingKey: string): VerifyResult {
    const result = verifyStandardWebhook(request.headers, request.rawBody, signingKey, request.receivedAt);
    return result.ok ? { ok: true } : result;
  },

  parse(request: InboundRequest): ParsedEvent[] {
    const raw = request.rawBody.toString('utf8').trim();
    const body = parseJsonObject(raw);
    const type = text(body.type) ?? '';
    const data = record(body.data) ?? {};
    const status = statusUnder(request.statusMapping, CONTRACT_STATUS, type, mapped(STATUS_BY_TYPE, type) ?? null);
    // the id verify checked: the same header, read the same way
    const eventId = standardWebhooksHeaders(request.headers).id;
    const click = record(data.click);
    const bounce = record(data.bounce);
    const recipients = Array.isArray(data.to) ? data.to : [data.to];
    return [
      {
        status,
        nativeType: type || '(none)',
        // the click's own time when there is one, else when Resend created the event
        occurredAt: fromIsoTime(click?.timestamp, fromIsoTime(body.created_at, request.receivedAt)),
        dedupeKey: eventId ? dedupeKey(`svix:${eventId}`) : rawDedupeKey(raw),
        providerMessageId: bounded(text(data.email_id)),
        mailtrailId: mailtrailIdOf(data.tags),
        recipient: recipientOf(recipients[0]),
        bounceType: status === 'bounced' ? bounceTypeOf(text(bounce?.type)) : undefined,
        reason: text(bounce?.message) ?? text(record(data.failed)?.reason) ?? text(record(data.suppressed)?.message),
        url: text(click?.link),
        userAgent: text(click?.userAgent) ?? text(record(data.open)?.userAgent),
        ip: text(click?.ipAddress) ?? text(record(data.open)?.ipAddress),
        raw,
      },
    ];
  },
} satisfies ProviderAdapter;

/** Resend documents tags as `[{name, value}]`, and its SDK types them as a `{name: value}` map: both are read. */
function mailtrailIdOf(tags: unknown): string | undefined {
  if (Array.isArray(tags)) {
    const tag = tags.find((entry) => record(entry)?.name === 'mailtrail_id');
    return bounded(text(record(tag)?.value));
  }
  return bounded(text(record(tags)?.mailtrail_id));
}

/** `email.bounced` mirrors SES: Permanent, Transient or Undetermined. Resend calls a bounce permanent by default. */
function bounceTypeOf(type: string | undefined): BounceType {
  if (type === undefined || type === 'Permanent') return 'hard';
  if (type === 'Transient') return 'soft';
  return 'undetermined';
}
