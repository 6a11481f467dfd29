import { createHmac, createSign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { standardWebhooksKey, standardWebhooksSignature } from '../../src/providers/standard-webhooks.js';

// Requests signed the way each provider signs them, with the keys of the fixtures (official test secrets, or the
// throwaway key of the constructed SNS vectors).

const fixture = (path: string) => JSON.parse(readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8'));
export const SNS = fixture('amazon-ses/aws-ses-sns.json');
/** The Svix test secret, which Resend's own tests sign with. */
export const RESEND_SECRET: string = fixture('resend/svix.json').official_vectors[0].secret;
export const SNS_CERT_URL: string = SNS.constructed_vectors.signing_cert_url;

/** Resend's (Svix's) headers for a body, signed at `at`, under the svix-* or webhook-* names. */
export function signResend(body: string | Buffer, messageId: string, at = Date.now(), names: 'svix' | 'webhook' = 'svix'): Record<string, string> {
  const timestamp = String(Math.floor(at / 1000));
  return {
    'content-type': 'application/json',
    [`${names}-id`]: messageId,
    [`${names}-timestamp`]: timestamp,
    [`${names}-signature`]: standardWebhooksSignature(standardWebhooksKey(RESEND_SECRET)!, messageId, timestamp, body),
  };
}

/** Mailgun's hex HMAC-SHA256 of timestamp + token. */
export function mailgunSignature(timestamp: string, token: string, key: string): string {
  return createHmac('sha256', key).update(timestamp + token, 'utf8').digest('hex');
}

/** The POST fields as Mandrill's signature sees them: decoded, sorted by name. */
export function formFields(body: string | Buffer): [string, string][] {
  return [...new URLSearchParams(Buffer.from(body).toString('utf8'))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** What Mandrill signs after the URL: each field's name and value, in name order, with nothing between them. */
export const mandrillSigned = (body: string | Buffer) => formFields(body).map(([name, value]) => name + value).join('');

/** Mandrill's X-Mandrill-Signature: base64 HMAC-SHA1 of the URL as configured, then the sorted fields. */
export function signMandrill(url: string, body: string | Buffer, key: string): string {
  return createHmac('sha1', key).update(url + mandrillSigned(body), 'utf8').digest('base64');
}

const SNS_SIGNED_FIELDS: Record<string, string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

/** What SNS signs: each signed field that is a string, as "name\nvalue\n"; null for an unknown Type. */
export function snsStringToSign(envelope: Record<string, unknown>): string | null {
  const fields = SNS_SIGNED_FIELDS[String(envelope.Type)];
  if (!Object.hasOwn(SNS_SIGNED_FIELDS, String(envelope.Type)) || !fields) return null;
  return fields.map((name) => (typeof envelope[name] === 'string' ? `${name}\n${envelope[name]}\n` : '')).join('');
}

/** An SNS message signed with the fixture's throwaway key, whose certificate tests serve from a cert dir. */
export function signSns(envelope: Record<string, unknown>, version: '1' | '2' = '2', key: string = SNS.constructed_vectors.test_private_key_pem): Record<string, unknown> {
  const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
  signer.update(snsStringToSign(envelope) ?? '');
  return { ...envelope, SignatureVersion: version, SigningCertURL: SNS_CERT_URL, Signature: signer.sign(key, 'base64') };
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
