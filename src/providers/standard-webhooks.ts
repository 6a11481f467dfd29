import { createHmac } from 'node:crypto';
import { sameBytes } from './fields.js';
import type { VerifyFailure } from './types.js';

/** Standard Webhooks (and Svix, which Resend uses): how far a signed timestamp may be from now, either way. */
export const STANDARD_WEBHOOKS_TOLERANCE_SECONDS = 300;

/** A `whsec_` secret's key bytes; null when it is not base64 of at least 16 bytes. */
export function standardWebhooksKey(secret: string): Buffer | null {
  const base64 = secret.trim().replace(/^whsec_/, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64)) return null;
  const key = Buffer.from(base64, 'base64');
  return key.length >= 16 ? key : null;
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for one secret. */
export function standardWebhooksSignature(key: Buffer, id: string, timestamp: string, body: Buffer | string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest('base64')}`;
}

/**
 * The three headers, under their Standard Webhooks names (`webhook-*`) or Svix's (`svix-*`). A request carrying
 * both names with different values is ambiguous, and gets `null` for that header: what was verified must be what
 * is used (the id is the dedupe key).
 */
export function standardWebhooksHeaders(headers: ReadonlyMap<string, string>): { id?: string; timestamp?: string; signature?: string; conflict: boolean } {
  let conflict = false;
  const header = (name: string) => {
    const standard = headers.get(`webhook-${name}`);
    const svix = headers.get(`svix-${name}`);
    if (standard !== undefined && svix !== undefined && standard !== svix) conflict = true;
    return standard ?? svix;
  };
  return { id: header('id'), timestamp: header('timestamp'), signature: header('signature'), conflict };
}

/**
 * Verifies a Standard Webhooks request: `webhook-id`/`-timestamp`/`-signature` headers, or Svix's `svix-*`
 * names. The signature header may hold several space-separated signatures (during a secret rotation); any
 * `v1` one that matches is enough. Timestamps more than the tolerance away from `nowMs` are refused.
 */
export function verifyStandardWebhook(
  headers: ReadonlyMap<string, string>,
  rawBody: Buffer,
  secret: string,
  nowMs: number,
): { ok: true; id: string } | VerifyFailure {
  const { id, timestamp, signature: signatures, conflict } = standardWebhooksHeaders(headers);
  if (conflict) return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'the webhook-* and svix-* headers disagree' };
  if (!id || !timestamp || !signatures) {
    return { ok: false, code: 'MT_ERR_SIGNATURE_MISSING', reason: 'missing svix-id, svix-timestamp or svix-signature header (or their webhook-* forms)' };
  }
  const key = standardWebhooksKey(secret);
  if (!key) return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'the signing secret is not a whsec_ secret' };
  if (!/^\d{1,12}$/.test(timestamp)) return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'the signature timestamp is not a number of seconds' };
  const age = nowMs / 1000 - Number(timestamp);
  if (age > STANDARD_WEBHOOKS_TOLERANCE_SECONDS || age < -STANDARD_WEBHOOKS_TOLERANCE_SECONDS) {
    return {
      ok: false,
      code: 'MT_ERR_SIGNATURE_EXPIRED',
      reason: `the signature timestamp is ${Math.round(Math.abs(age))} s ${age > 0 ? 'old' : 'in the future'}, more than ${STANDARD_WEBHOOKS_TOLERANCE_SECONDS} s; check this server's clock`,
    };
  }
  const expected = Buffer.from(standardWebhooksSignature(key, id, timestamp, rawBody));
  for (const candidate of signatures.split(' ')) {
    const given = Buffer.from(candidate);
    if (sameBytes(expected, given)) return { ok: true, id };
  }
  return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'no signature matches this body and secret' };
}
