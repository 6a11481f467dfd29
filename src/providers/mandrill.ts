import { createHmac } from 'node:crypto';
import type { ParsedEvent } from '../core/event.js';
import { MailtrailError } from '../core/errors.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { bounded, dedupeKey, fromUnixSeconds, mailtrailIdFrom, rawDedupeKey, recipientOf, record, sameBytes, signatureInvalid, signatureMissing, text } from './fields.js';
import { splitJsonArray } from './json-array.js';
import type { ProviderAdapter, VerifyResult } from './types.js';

const SIGNATURE_HEADER = 'x-mandrill-signature';
const EVENTS_FIELD = 'mandrill_events';

/**
 * When a new webhook URL does not answer Mandrill's HEAD check with 200, Mandrill POSTs `mandrill_events=[]`
 * signed with this fixed key instead of the webhook's own.
 */
const URL_CHECK_KEY = 'test-webhook';

// A Map, not an object literal: a lookup of "constructor" or "__proto__" must find nothing.
const STATUS_BY_EVENT = new Map<string, Status>([
  ['send', 'sent'],
  ['deferral', 'delayed'],
  ['hard_bounce', 'bounced'],
  ['soft_bounce', 'bounced'],
  ['open', 'opened'],
  ['click', 'clicked'],
  ['spam', 'complaint'],
  ['unsub', 'unsubscribed'],
  ['reject', 'rejected'],
]);

const BOUNCE_TYPE_BY_EVENT = new Map<string, BounceType>([
  ['hard_bounce', 'hard'],
  ['soft_bounce', 'soft'],
]);

/** Events about a delivery problem: only for these does the message snapshot in `msg` describe the event. */
const PROBLEM_EVENTS = new Set(['deferral', 'hard_bounce', 'soft_bounce', 'reject']);

const KEY_HELP = 'copy the key shown for this webhook under Settings → Webhooks in Mandrill (each webhook has its own)';

/**
 * Mailchimp Transactional (Mandrill) webhooks: a form POST whose one field `mandrill_events` holds a JSON array of
 * up to 1000 events. `X-Mandrill-Signature` is base64 HMAC-SHA1, under the webhook's key, of the webhook URL as
 * configured followed by every POST field's name and value, sorted by name. No timestamp is signed, so there is no
 * freshness window; a replayed request brings the same events again, which deduplication absorbs.
 */
export const mandrill = {
  id: 'mandrill',
  displayName: 'Mailchimp Transactional (Mandrill)',
  contentTypes: ['application/x-www-form-urlencoded'],
  auth: 'signature' as const,

  checkSigningKey(key) {
    if (key === '') return `the Mandrill webhook key is empty: ${KEY_HELP}`;
    if (!/^[\x21-\x7e]+$/.test(key)) return `the Mandrill webhook key must be one word of printable ASCII, without spaces or line breaks: ${KEY_HELP}`;
    if (key === URL_CHECK_KEY) return `"${URL_CHECK_KEY}" is the generic key Mandrill uses only to check a new URL: ${KEY_HELP}`;
    return null;
  },

  verify(request, signingKey): VerifyResult {
    if (!signingKey) return signatureInvalid(`this integration has no Mandrill webhook key to check the signature with: ${KEY_HELP}`);
    const header = request.headers.get(SIGNATURE_HEADER)?.trim();
    if (!header) return signatureMissing('missing X-Mandrill-Signature header; Mandrill signs every webhook POST, so this request did not come from a Mandrill webhook');
    if (!/^[A-Za-z0-9+/]{27}=$/.test(header)) return signatureInvalid('X-Mandrill-Signature is not a base64 HMAC-SHA1');
    const fields = formFields(request.rawBody);
    if (typeof fields === 'string') return signatureInvalid(fields);

    const given = Buffer.from(header, 'base64');
    const signed = request.url + [...fields].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([name, value]) => name + value).join('');
    if (signedWith(signingKey, signed, given)) return { ok: true };
    if (fields.size === 1 && fields.get(EVENTS_FIELD)?.trim() === '[]' && signedWith(URL_CHECK_KEY, signed, given)) return { ok: true };
    return signatureInvalid(
      `the Mandrill signature does not match: ${KEY_HELP}, and check that the webhook's URL at Mandrill is exactly ${request.url} (Mandrill signs the URL as typed: scheme, trailing slash and query count)`,
    );
  },

  parse(request) {
    const fields = formFields(request.rawBody);
    if (typeof fields === 'string') throw new MailtrailError('MT_ERR_INVALID_BODY', fields);
    const eventsText = fields.get(EVENTS_FIELD);
    if (eventsText === undefined) throw new MailtrailError('MT_ERR_INVALID_BODY', `the body has no ${EVENTS_FIELD} field`);
    let batch: unknown;
    try {
      batch = JSON.parse(eventsText);
    } catch {
      throw new MailtrailError('MT_ERR_INVALID_BODY', `${EVENTS_FIELD} is not valid JSON`);
    }
    if (!Array.isArray(batch)) throw new MailtrailError('MT_ERR_INVALID_BODY', `${EVENTS_FIELD} must be a JSON array`);
    const raws = splitJsonArray(eventsText);
    return batch.map((item, index) => {
      const event = record(item);
      if (!event) throw new MailtrailError('MT_ERR_INVALID_BODY', `event ${index} of ${EVENTS_FIELD} is not a JSON object`);
      return parseEvent(event, raws[index] ?? JSON.stringify(item), request.receivedAt);
    });
  },
} satisfies ProviderAdapter;

function parseEvent(item: Record<string, unknown>, raw: string, receivedAt: number): ParsedEvent {
  // Sync events (rejection blacklist / whitelist changes) have `type` and `action` instead of `event`, and no msg.
  const eventType = text(item.event);
  const nativeType = eventType ?? text(item.type) ?? '';
  const status = eventType === undefined ? null : (STATUS_BY_EVENT.get(eventType) ?? null);
  const msg = record(item.msg);
  const messageId = text(msg?._id) ?? (msg ? text(item._id) : undefined);
  const eventId = text(item._id) ?? text(msg?._id);
  const url = text(item.url);
  const robot = record(item.user_agent_parsed)?.type === 'robot';
  return {
    status,
    nativeType: nativeType || '(none)',
    occurredAt: fromUnixSeconds(item.ts, receivedAt),
    // The top-level _id is the message's id, not the event's (Mandrill's examples give both the same value): a
    // message has many opens and clicks, so the event's time, a click's url and the opener's address and agent
    // make the key. Two opens in one second from two devices stay two; a retry of one stays one.
    dedupeKey: eventId
      ? dedupeKey([eventId, nativeType, text(item.ts) ?? '', ...labelled({ url, ip: text(item.ip), ua: text(item.user_agent) })].join(':'))
      : rawDedupeKey(raw),
    providerMessageId: bounded(messageId),
    mailtrailId: mailtrailIdFrom(msg?.metadata),
    recipient: recipientOf(msg?.email),
    bounceType: BOUNCE_TYPE_BY_EVENT.get(eventType ?? ''),
    reason: PROBLEM_EVENTS.has(eventType ?? '') ? reasonOf(msg) : undefined,
    url,
    userAgent: text(item.user_agent),
    ip: text(item.ip),
    machine: robot ? true : undefined,
    machineReason: robot ? 'provider: user_agent_parsed.type=robot' : undefined,
    raw,
  };
}

/** `bounce_description` is Mandrill's category (`bad_mailbox`, `mailbox_full`…), `diag` the receiving server's reply. */
function reasonOf(msg: Record<string, unknown> | undefined): string | undefined {
  const category = text(msg?.bounce_description);
  const smtpEvents = Array.isArray(msg?.smtp_events) ? msg.smtp_events : [];
  const diag = text(msg?.diag) ?? text(record(smtpEvents.at(-1))?.diag);
  return category && diag ? `${category}: ${diag}` : (category ?? diag);
}

/**
 * The decoded POST fields, or why they cannot be used. A repeated name is refused: signing schemes that concatenate
 * fields disagree on which copy counts, and the copy that was verified must be the copy that is read.
 */
function formFields(body: Buffer): Map<string, string> | string {
  const fields = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    if (fields.has(name)) return `the form field "${name}" appears more than once`;
    fields.set(name, value);
  }
  return fields;
}

function signedWith(key: string, signed: string, given: Buffer): boolean {
  const expected = createHmac('sha1', key).update(signed, 'utf8').digest();
  return sameBytes(expected, given);
}



/** `name=value` for each field present, so keys of events without them stay as they were. */
function labelled(fields: Record<string, string | undefined>): string[] {
  return Object.entries(fields).flatMap(([name, value]) => (value === undefined ? [] : [`${name}=${value}`]));
}
