import { createHmac } from 'node:crypto';
import type { ParsedEvent } from '../core/event.js';
import { MailtrailError } from '../core/errors.js';
import type { StatusMapping } from '../core/status-mapping.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { attemptsOf, bounded, dedupeKey, fromUnixSeconds, mailtrailIdFrom, MAX_KEY, parseJsonObject, rawDedupeKey, recipientOf, record, sameBytes, signatureInvalid, signatureMissing, statusUnder, text } from './fields.js';
import type { ProviderAdapter, VerifyResult } from './types.js';

/**
 * How far `signature.timestamp` may be from the time the request arrived, either way, in seconds.
 *
 * Mailgun retries a failed webhook for up to 8 hours and its docs do not say whether a retry is signed again, so a
 * window shorter than the retry span could refuse Mailgun's own retries. The window is not what stops a captured
 * signature from being reused with another body: the token is (see `verify`).
 */
export const MAILGUN_MAX_AGE_SECONDS = 12 * 3600;

// A Map, not an object literal: a lookup of "constructor" or "__proto__" must find nothing.
const STATUS_BY_EVENT = new Map<string, Status>([
  ['accepted', 'sent'],
  ['delivered', 'delivered'],
  ['opened', 'opened'],
  ['clicked', 'clicked'],
  ['unsubscribed', 'unsubscribed'],
  ['complained', 'complaint'],
  ['rejected', 'rejected'],
]);

/**
 * `failed` carries its severity; `permanent_fail` and `temporary_fail` are the names of Mailgun's webhook kinds for
 * the two severities, accepted as event names too in case a relay or an old payload uses them.
 */
const FAILURE_SEVERITY = new Map<string, string | undefined>([
  ['failed', undefined],
  ['permanent_fail', 'permanent'],
  ['temporary_fail', 'temporary'],
]);

/** The contract's table for Mailgun (see StatusMapping): every failure, whatever its severity or reason, is `rejected`. */
const CONTRACT_STATUS = new Map<string, Status>([
  ['clicked', 'clicked'],
  ['complained', 'complaint'],
  ['delivered', 'delivered'],
  ['opened', 'opened'],
  ['permanent_fail', 'rejected'],
  ['failed', 'rejected'],
  ['unsubscribed', 'unsubscribed'],
]);

const SIGNING_KEY_HELP = 'copy the "HTTP webhook signing key" from the Mailgun control panel';

/**
 * Mailgun webhooks (v3): one event per POST, `{"signature": {timestamp, token, signature}, "event-data": {…}}`.
 * The signature is hex HMAC-SHA256 of `timestamp + token` under the account's HTTP webhook signing key; it does not
 * cover `event-data`. The legacy form-encoded webhooks are not accepted.
 */
export const mailgun = {
  id: 'mailgun',
  displayName: 'Mailgun',
  contentTypes: ['application/json'],
  auth: 'signature' as const,

  checkSigningKey(key) {
    if (key === '') return `the Mailgun signing key is empty: ${SIGNING_KEY_HELP}`;
    if (!/^[\x21-\x7e]+$/.test(key)) {
      return `the Mailgun signing key must be one word of printable ASCII, without spaces or line breaks: ${SIGNING_KEY_HELP}`;
    }
    if (key.startsWith('pubkey-')) {
      return `this is Mailgun's public validation key, which signs nothing: ${SIGNING_KEY_HELP}`;
    }
    return null;
  },

  verify(request, signingKey): VerifyResult {
    if (!signingKey) return signatureInvalid(`this integration has no Mailgun signing key to check the signature with: ${SIGNING_KEY_HELP}`);
    const body = jsonObjectOrUndefined(request.rawBody);
    if (!body) {
      return signatureMissing('the body is not a JSON object, so it carries no Mailgun signature; Mailtrail accepts Mailgun webhooks (v3, JSON) only');
    }
    const fields = record(body.signature);
    if (!fields) return signatureMissing('the body has no "signature" object; check that this URL is set as a Mailgun webhook (v3, JSON)');
    const timestamp = text(fields.timestamp);
    const token = text(fields.token);
    const signature = text(fields.signature);
    if (timestamp === undefined || token === undefined || signature === undefined) {
      const absent = Object.entries({ timestamp, token, signature }).filter(([, value]) => value === undefined).map(([name]) => `signature.${name}`);
      return signatureMissing(`the body has no ${absent.join(', ')}; Mailgun sends all three`);
    }
    if (!/^\d{1,12}(\.\d+)?$/.test(timestamp)) return signatureInvalid('signature.timestamp is not a Unix time in seconds');
    if (token.length > MAX_KEY) return signatureInvalid(`signature.token is longer than ${MAX_KEY} characters; Mailgun's tokens have 50`);
    if (!/^[0-9a-fA-F]{64}$/.test(signature)) return signatureInvalid('signature.signature is not a hex HMAC-SHA256');

    const expected = createHmac('sha256', signingKey).update(timestamp + token, 'utf8').digest();
    if (!sameBytes(expected, Buffer.from(signature, 'hex'))) {
      return signatureInvalid(`the Mailgun signature does not match this key: ${SIGNING_KEY_HELP} (an API key does not work)`);
    }
    // Checked after the signature, so that an expired request is one Mailgun really signed: the key is right and
    // the operator looks at the clock, or at a replay.
    const skew = Math.abs(request.receivedAt / 1000 - Number(timestamp));
    if (skew > MAILGUN_MAX_AGE_SECONDS) {
      return {
        ok: false,
        code: 'MT_ERR_SIGNATURE_EXPIRED',
        reason: `signature.timestamp is ${Math.round(skew)} s away from this server's clock, more than the ${MAILGUN_MAX_AGE_SECONDS} s allowed; check the server's clock, or this is an old request sent again`,
      };
    }
    // The signature does not cover event-data: without the nonce, one captured signature would carry any events.
    return { ok: true, nonce: token };
  },

  parse(request) {
    const bodyText = request.rawBody.toString('utf8');
    const data = record(parseJsonObject(bodyText)['event-data']);
    if (!data) throw new MailtrailError('MT_ERR_INVALID_BODY', 'the body has no "event-data" object; Mailtrail reads Mailgun webhooks (v3, JSON)');
    return [parseEvent(data, bodyText.trim(), request.receivedAt, request.statusMapping)];
  },

  normalizeMessageId,
} satisfies ProviderAdapter;

/** The send API answers `"id": "<20111114174239.25659.5817@samples.mailgun.org>"`; events carry the id without brackets. */
function normalizeMessageId(id: string): string {
  return id.trim().replace(/^<(.*)>$/s, '$1').trim();
}

function parseEvent(data: Record<string, unknown>, raw: string, receivedAt: number, mapping: StatusMapping | undefined): ParsedEvent {
  const nativeType = text(data.event) ?? '';
  const { status, bounceType } = classify(nativeType, data, mapping);
  const delivery = record(data['delivery-status']);
  const client = record(data['client-info']);
  const messageId = text(record(record(data.message)?.headers)?.['message-id']);
  const eventId = text(data.id);
  // "apple", "gmail" or "generic" when Mailgun's bot detection flagged the open or click; empty otherwise.
  const bot = text(client?.bot);
  return {
    status,
    nativeType: nativeType || '(none)',
    occurredAt: fromUnixSeconds(data.timestamp, receivedAt),
    // Mailgun promises event ids unique "within a day" only, and dedupe keys live forever: the event's own
    // microsecond timestamp (the same in every retry of it) keeps a reused id from swallowing a later event.
    dedupeKey: eventId ? dedupeKey(`${eventId}:${nativeType}:${text(data.timestamp) ?? ''}`) : rawDedupeKey(raw),
    providerMessageId: bounded(text(normalizeMessageId(messageId ?? ''))),
    mailtrailId: mailtrailIdFrom(data['user-variables']),
    recipient: recipientOf(data.recipient),
    bounceType,
    // The receiving server's reply first; Mailgun's own description when there was none (suppressions, code 605).
    reason: text(delivery?.message) ?? text(delivery?.description) ?? text(data.reason),
    attempts: attemptsOf(delivery?.['attempt-no']),
    url: text(data.url),
    userAgent: text(client?.['user-agent']),
    ip: text(data.ip),
    machine: bot ? true : undefined,
    machineReason: bot ? `provider: client-info.bot=${bot}` : undefined,
    raw,
  };
}

function classify(nativeType: string, data: Record<string, unknown>, mapping: StatusMapping | undefined): { status: Status | null; bounceType?: BounceType } {
  const precise = preciseClassification(nativeType, data);
  const status = statusUnder(mapping, CONTRACT_STATUS, nativeType, precise.status);
  // A failure the contract calls `rejected` keeps in its bounce type what `precise` tells apart: a permanent failure
  // is `hard` under both mappings, and suppression and bounce rates must read that, not the status.
  const contractFailure = status !== precise.status && FAILURE_SEVERITY.has(nativeType);
  return { status, bounceType: contractFailure ? failureBounceType(data, FAILURE_SEVERITY.get(nativeType)) : precise.bounceType };
}

function preciseClassification(nativeType: string, data: Record<string, unknown>): { status: Status | null; bounceType?: BounceType } {
  const status = STATUS_BY_EVENT.get(nativeType);
  if (status) return { status };
  if (!FAILURE_SEVERITY.has(nativeType)) return { status: null };
  const bounceType = failureBounceType(data, FAILURE_SEVERITY.get(nativeType));
  // suppress-bounce, suppress-unsubscribe, suppress-complaint: Mailgun did not try to send to a suppressed address.
  if (bounceType === undefined) return { status: 'dropped' };
  // A temporary failure is retried by Mailgun: the message is late, not lost.
  if (bounceType === 'soft') return { status: 'delayed' };
  return { status: 'bounced', bounceType };
}

/**
 * A failure's bounce type by its severity (the event's own, else the one its name implies). A failure to send to a
 * suppressed address has none: nothing was sent, so nothing bounced, and counting it would count one bounce again.
 */
function failureBounceType(data: Record<string, unknown>, impliedSeverity: string | undefined): BounceType | undefined {
  if (text(data.reason)?.startsWith('suppress-')) return undefined;
  const severity = text(data.severity) ?? impliedSeverity;
  if (severity === 'permanent') return 'hard';
  if (severity === 'temporary') return 'soft';
  return 'undetermined';
}

function jsonObjectOrUndefined(body: Buffer): Record<string, unknown> | undefined {
  try {
    return record(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}


