import { createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import type { ParsedEvent } from '../core/event.js';
import type { StatusMapping } from '../core/status-mapping.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { attemptsOf, bounded, dedupeKey, fromUnixSeconds, mapped, MAX_ADDRESS, rawDedupeKey, statusUnder, text } from './fields.js';
import { jsonObjects } from './json-array.js';
import type { InboundRequest, ProviderAdapter, VerifyResult } from './types.js';

const SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
const TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

const STATUS_BY_EVENT: Record<string, Status> = {
  processed: 'sent',
  deferred: 'delayed',
  delivered: 'delivered',
  bounce: 'bounced',
  dropped: 'dropped',
  open: 'opened',
  click: 'clicked',
  spamreport: 'complaint',
  unsubscribe: 'unsubscribed',
  group_unsubscribe: 'unsubscribed',
};

/** The contract's table for SendGrid (see StatusMapping): a blocked bounce is `bounced` there, with bounce type `block`. */
const CONTRACT_STATUS = new Map<string, Status>([
  ['bounce', 'bounced'],
  ['click', 'clicked'],
  ['delivered', 'delivered'],
  ['dropped', 'dropped'],
  ['open', 'opened'],
]);

const publicKeys = new Map<string, KeyObject>();

/**
 * Twilio SendGrid Event Webhook. Batches are JSON arrays; the Signed Event Webhook signs
 * `timestamp header + raw body` with ECDSA P-256/SHA-256 (DER signature, SPKI public key, both base64).
 */
export const sendgrid = {
  id: 'sendgrid',
  displayName: 'Twilio SendGrid',
  contentTypes: ['application/json'],
  auth: 'signature' as const,

  checkSigningKey(key: string) {
    try {
      const parsed = publicKey(key);
      if (parsed.asymmetricKeyType !== 'ec' || parsed.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        return 'the SendGrid verification key must be an ECDSA P-256 public key';
      }
      return null;
    } catch {
      return 'the SendGrid verification key must be the base64 public key shown under Signed Event Webhook';
    }
  },

  verify(request: InboundRequest, signingKey: string): VerifyResult {
    const signature = request.headers.get(SIGNATURE_HEADER);
    const timestamp = request.headers.get(TIMESTAMP_HEADER);
    if (!signature || !timestamp) {
      return {
        ok: false,
        code: 'MT_ERR_SIGNATURE_MISSING',
        reason: 'missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp header; turn on Signed Event Webhook in SendGrid',
      };
    }
    // SendGrid's SDKs check no timestamp window and SendGrid retries for up to 24 h; replays are harmless
    // because every event is deduplicated on its sg_event_id.
    const signed = Buffer.concat([Buffer.from(timestamp, 'utf8'), request.rawBody]);
    let valid = false;
    try {
      valid = verifySignature('sha256', signed, { key: publicKey(signingKey), dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
    } catch {
      valid = false;
    }
    return valid ? { ok: true } : { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'the SendGrid signature does not match this body and key' };
  },

  parse(request: InboundRequest) {
    // A body holding one object is a batch of one (SendGrid's test and some relays send that).
    return jsonObjects(request.rawBody.toString('utf8')).map(({ value, raw }) => parseEvent(value, raw, request.receivedAt, request.statusMapping));
  },
} satisfies ProviderAdapter;

function parseEvent(item: Record<string, unknown>, raw: string, receivedAt: number, mapping: StatusMapping | undefined): ParsedEvent {
  const nativeType = text(item.event) ?? '';
  const precise = nativeType === 'bounce' && item.type === 'blocked' ? 'blocked' : (mapped(STATUS_BY_EVENT, nativeType) ?? null);
  const status = statusUnder(mapping, CONTRACT_STATUS, nativeType, precise);

  const eventId = text(item.sg_event_id);
  return {
    status,
    nativeType: nativeType || '(none)',
    occurredAt: fromUnixSeconds(item.timestamp, receivedAt),
    // The docs' sample batch gives every event the same sg_event_id, so the type is part of the key.
    dedupeKey: eventId ? dedupeKey(`${eventId}:${nativeType}`) : rawDedupeKey(raw),
    providerMessageId: bounded(messageIdOf(item)),
    mailtrailId: text(item.mailtrail_id),
    recipient: bounded(text(item.email)?.toLowerCase(), MAX_ADDRESS),
    bounceType: status === 'bounced' || status === 'blocked' ? bounceTypeOf(item) : undefined,
    reason: text(item.reason) ?? text(item.response),
    attempts: attemptsOf(item.attempt),
    url: text(item.url),
    userAgent: text(item.useragent),
    ip: text(item.ip),
    machine: item.sg_machine_open === true ? true : undefined,
    machineReason: item.sg_machine_open === true ? 'provider: sg_machine_open' : undefined,
    raw,
  };
}

/**
 * The X-Message-Id returned by the send call is the part of `sg_message_id` before the first dot. Async
 * bounces carry no `sg_message_id`; their `smtp-id` local part is the same id for messages sent by the API.
 */
function messageIdOf(item: Record<string, unknown>): string | undefined {
  const sgMessageId = text(item.sg_message_id);
  if (sgMessageId) return sgMessageId.split('.')[0];
  const smtpId = text(item['smtp-id']);
  if (smtpId) return smtpId.replace(/^<|>$/g, '').split('@')[0] || undefined;
  return undefined;
}

function bounceTypeOf(item: Record<string, unknown>): BounceType {
  if (item.type === 'blocked') return 'block';
  if (item.type === 'bounce') return 'hard';
  const status = text(item.status) ?? '';
  if (status.startsWith('5')) return 'hard';
  if (status.startsWith('4')) return 'soft';
  return 'undetermined';
}

function publicKey(base64: string): KeyObject {
  let key = publicKeys.get(base64);
  if (!key) {
    key = createPublicKey({ key: Buffer.from(base64.trim(), 'base64'), format: 'der', type: 'spki' });
    if (publicKeys.size > 1000) publicKeys.clear();
    publicKeys.set(base64, key);
  }
  return key;
}
