import { verify as verifySignature, X509Certificate } from 'node:crypto';
import type { ParsedEvent } from '../core/event.js';
import { MailtrailError } from '../core/errors.js';
import { nestsDeeperThan, tooDeep } from '../core/json-depth.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { bounded, dedupeKey, fromIsoTime, parseJson, rawDedupeKey, recipientOf, record, statusUnder, text } from './fields.js';
import type { Handshake, InboundRequest, ProviderAdapter, ProviderContext, VerifyResult } from './types.js';

/**
 * SNS hosts: `sns.<region>.amazonaws.com`, and `.com.cn` in China. A region is `us-east-1`, `us-gov-west-1`,
 * `cn-north-1`…: nothing else, so S3's `sns.s3-….amazonaws.com` bucket hosts do not pass.
 */
const SNS_HOST = /^sns\.(us-gov-|us-iso-|us-isob-)?[a-z]{2}-[a-z]+-\d\.amazonaws\.com(\.cn)?$/;
/** A signing certificate URL, whole: https, an SNS host, the certificate path, no port, query or fragment. */
const CERT_URL = /^https:\/\/sns\.(us-gov-|us-iso-|us-isob-)?[a-z]{2}-[a-z]+-\d\.amazonaws\.com(\.cn)?\/SimpleNotificationService-[a-f0-9]{32}\.pem$/;
/** A topic ARN an integration accepts; `*` stands for any region, any account or any topic name. */
const TOPIC_PATTERN = /^arn:aws(-cn|-us-gov)?:sns:([a-z0-9-]+|\*):(\d{12}|\*):([\w-]{1,256}|\*)$/;
/** SES sends a message to at most 50 recipients; an SNS message naming more is not SES's. */
const MAX_RECIPIENTS = 50;

/** The fields each message type signs, in byte order (the SNS "verify a message signature" page and the AWS SDKs). */
const SIGNED_FIELDS: Record<string, readonly string[]> = {
  Notification: ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'],
  SubscriptionConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
  UnsubscribeConfirmation: ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'],
};

type Envelope = Record<string, unknown>;

/**
 * The contract's table for Amazon SES (see StatusMapping): every `Bounce` is `bounced` there, a bounce to a
 * suppressed address too (with its bounce type).
 */
const CONTRACT_STATUS = new Map<string, Status>([
  ['Bounce', 'bounced'],
  ['Complaint', 'complaint'],
  ['Click', 'clicked'],
  ['Delivery', 'delivered'],
  ['DeliveryDelay', 'delayed'],
  ['Open', 'opened'],
  ['Reject', 'rejected'],
  ['Send', 'sent'],
]);

/**
 * Amazon SES, through an SNS HTTP(S) subscription. The body is an SNS envelope posted as `text/plain`; its
 * `Message` is the SES event as a JSON string. SNS signs the envelope with RSA (SignatureVersion 1: SHA1,
 * 2: SHA256) and a certificate it hosts; Mailtrail fetches that only from SNS hosts over https, or reads it from
 * MAILTRAIL_SNS_CERT_DIR. `settings.topicArns` restricts an integration to some topics.
 */
export const amazonSes = {
  id: 'amazon-ses',
  displayName: 'Amazon SES (SNS)',
  contentTypes: ['text/plain', 'application/json'],
  auth: 'certificate' as const,

  /**
   * `topicArns` is required: SNS signs every topic's messages, so the signature alone only proves a message came
   * from some AWS account. Without the list, anyone who learned the inbound URL could subscribe a topic of their
   * own to it and publish forged events that verify.
   */
  checkSettings(settings: Record<string, unknown>) {
    const { topicArns, ...rest } = settings;
    if (Object.keys(rest).length > 0) return `unknown setting ${Object.keys(rest)[0]}; Amazon SES takes topicArns`;
    if (!Array.isArray(topicArns) || topicArns.length === 0 || topicArns.length > 100 || !topicArns.every((arn) => typeof arn === 'string' && TOPIC_PATTERN.test(arn))) {
      return 'topicArns must list the SNS topics this integration accepts: arn:aws:sns:<region>:<account>:<topic>, where * stands for any region, account or topic';
    }
    return null;
  },

  async verify(request: InboundRequest, _signingKey: string | null, context: ProviderContext): Promise<VerifyResult> {
    if (request.headers.get('x-amz-sns-rawdelivery') === 'true') {
      return { ok: false, code: 'MT_ERR_SIGNATURE_MISSING', reason: 'raw message delivery is on, so SNS sends no signature: turn it off for this subscription' };
    }
    const envelope = readEnvelope(request);
    const type = text(envelope.Type) ?? '';
    const fields = SIGNED_FIELDS[type];
    if (!fields) return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: `"${type}" is not an SNS message type` };
    const signature = text(envelope.Signature);
    const certUrl = text(envelope.SigningCertURL) ?? text(envelope.SigningCertUrl);
    if (!signature || !certUrl) return { ok: false, code: 'MT_ERR_SIGNATURE_MISSING', reason: 'the SNS message has no Signature or SigningCertURL' };
    const algorithm = envelope.SignatureVersion === '1' ? 'sha1' : envelope.SignatureVersion === '2' ? 'sha256' : null;
    if (!algorithm) return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: `unknown SNS SignatureVersion "${String(envelope.SignatureVersion)}"` };
    // The topic is checked first: a request for a topic this integration does not accept costs no certificate fetch.
    if (!topicAllowed(request.settings.topicArns, text(envelope.TopicArn))) {
      return { ok: false, code: 'MT_ERR_FORBIDDEN', reason: `topic ${String(envelope.TopicArn)} is not one of this integration's topicArns` };
    }
    if (!CERT_URL.test(certUrl)) {
      return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'SigningCertURL must be https://sns.<region>.amazonaws.com/SimpleNotificationService-<id>.pem' };
    }

    const pem = await context.certificate(certUrl);
    let valid = false;
    try {
      const certificate = new X509Certificate(pem);
      // Validity dates are not checked: the certificate is trusted because it came from SNS over https (or from
      // the operator's directory), and SNS keeps signing with a certificate for a while after replacing it.
      if (!certificate.subject.split('\n').includes('CN=sns.amazonaws.com')) {
        return { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'the signing certificate is not issued to sns.amazonaws.com' };
      }
      valid = verifySignature(algorithm, Buffer.from(stringToSign(envelope, fields)), certificate.publicKey, Buffer.from(signature, 'base64'));
    } catch {
      valid = false;
    }
    return valid ? { ok: true } : { ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: 'the SNS signature does not match this message and certificate' };
  },

  async handshake(request: InboundRequest, context: ProviderContext): Promise<Handshake | null> {
    const envelope = readEnvelope(request);
    const topic = text(envelope.TopicArn) ?? null;
    if (envelope.Type === 'UnsubscribeConfirmation') {
      // Recorded only: resubscribing is the operator's decision, made in the AWS console.
      return { kind: 'unsubscribed', topic, detail: `SNS ended the subscription to ${topic}` };
    }
    if (envelope.Type !== 'SubscriptionConfirmation') return null;
    const subscribeUrl = text(envelope.SubscribeURL);
    if (!subscribeUrl || !isSnsUrl(subscribeUrl)) {
      // Never fetched, and not SNS's failure: a request that cannot succeed however often SNS sends it again.
      return {
        kind: 'subscription_confirmation_failed',
        topic,
        detail: 'the SubscribeURL is not an https URL of an SNS host (https://sns.<region>.amazonaws.com/?Action=ConfirmSubscription…); the subscription was not confirmed',
        code: 'MT_ERR_SUBSCRIBE_URL_INVALID',
      };
    }
    try {
      const { status, body } = await context.fetchText(subscribeUrl);
      if (status !== 200) return { kind: 'subscription_confirmation_failed', topic, detail: `SNS answered the confirmation with HTTP ${status}` };
      const arn = /<SubscriptionArn>([^<]{1,512})<\/SubscriptionArn>/.exec(body)?.[1];
      return { kind: 'subscription_confirmed', topic, detail: `confirmed the subscription to ${topic}${arn ? ` (${arn})` : ''}` };
    } catch (error) {
      return { kind: 'subscription_confirmation_failed', topic, detail: `could not reach SNS to confirm the subscription: ${(error as Error).message}` };
    }
  },

  parse(request: InboundRequest): ParsedEvent[] {
    const envelope = readEnvelope(request);
    const raw = request.rawBody.toString('utf8').trim();
    const snsId = bounded(text(envelope.MessageId));
    const at = fromIsoTime(envelope.Timestamp, request.receivedAt);
    // The SES event is JSON inside a string of the envelope: the scan of the body cannot see how deep it nests.
    if (typeof envelope.Message === 'string' && nestsDeeperThan(envelope.Message)) throw tooDeep();
    const message = typeof envelope.Message === 'string' ? record(safeJson(envelope.Message)) : undefined;
    const type = text(message?.eventType) ?? text(message?.notificationType);
    if (!message || !type) {
      // Not an SES event (a test message published to the topic): kept as ignored.
      return [{ status: null, nativeType: `sns:${text(envelope.Type) ?? 'unknown'}`, occurredAt: at, dedupeKey: snsId ? dedupeKey(`sns:${snsId}`) : rawDedupeKey(raw), raw }];
    }
    const mail = record(message.mail) ?? {};
    const base = {
      nativeType: type,
      providerMessageId: bounded(text(mail.messageId)),
      mailtrailId: mailtrailIdOf(mail.tags),
      raw,
    };
    return sesEvents(type, message, mail, at).map(({ recipient, ...event }) => ({
      ...base,
      ...event,
      status: statusUnder(request.statusMapping, CONTRACT_STATUS, type, event.status),
      recipient: recipientOf(recipient),
      dedupeKey: snsId ? dedupeKey(`sns:${snsId}:${recipientOf(recipient) ?? ''}`) : rawDedupeKey(`${raw}\n${String(recipient)}`),
    }));
  },
} satisfies ProviderAdapter;

type SesEvent = Omit<ParsedEvent, 'nativeType' | 'dedupeKey' | 'raw' | 'providerMessageId' | 'mailtrailId' | 'recipient'> & { recipient: unknown };

/** One event per affected recipient, each with the time of the event itself (never the mail's send time where the event has its own). */
function sesEvents(type: string, message: Record<string, unknown>, mail: Record<string, unknown>, fallback: number): SesEvent[] {
  const events = eventsByRecipient(type, message, mail, fallback);
  if (events.length > MAX_RECIPIENTS) throw new MailtrailError('MT_ERR_INVALID_BODY', `the SES event names ${events.length} recipients; SES sends to at most ${MAX_RECIPIENTS}`);
  return events;
}

function eventsByRecipient(type: string, message: Record<string, unknown>, mail: Record<string, unknown>, fallback: number): SesEvent[] {
  const sentAt = fromIsoTime(mail.timestamp, fallback);
  // A notification that names no recipient at all is still an event: kept once, for the message as a whole.
  const destination: unknown[] = Array.isArray(mail.destination) && mail.destination.length > 0 ? mail.destination : [undefined];
  const each = (status: Status | null, occurredAt: number, extra: Partial<SesEvent> = {}) =>
    destination.map((recipient) => ({ status, occurredAt, recipient, ...extra }));
  // SES does not say which recipient opened or clicked: one open is one event, for the first recipient.
  const once = (status: Status, occurredAt: number, extra: Partial<SesEvent>) => [{ status, occurredAt, recipient: destination[0], ...extra }];
  switch (type) {
    case 'Bounce': {
      const bounce = record(message.bounce) ?? {};
      const bounceType = bounceTypeOf(text(bounce.bounceType));
      const subType = text(bounce.bounceSubType);
      // SES did not attempt delivery to an address on a suppression list: reported as a bounce, but nothing was sent.
      const status: Status = subType === 'Suppressed' || subType === 'OnAccountSuppressionList' ? 'dropped' : 'bounced';
      return recipientsOr(bounce.bouncedRecipients, destination).map((recipient) => ({
        status,
        occurredAt: fromIsoTime(bounce.timestamp, fallback),
        recipient: recipient.emailAddress,
        bounceType,
        reason: text(recipient.diagnosticCode) ?? text(recipient.status) ?? [text(bounce.bounceType), subType].filter(Boolean).join('/'),
      }));
    }
    case 'Complaint': {
      const complaint = record(message.complaint) ?? {};
      return recipientsOr(complaint.complainedRecipients, destination).map((recipient) => ({
        status: 'complaint' as const,
        occurredAt: fromIsoTime(complaint.timestamp, fallback),
        recipient: recipient.emailAddress,
        reason: text(complaint.complaintFeedbackType),
        userAgent: text(complaint.userAgent),
      }));
    }
    case 'Delivery': {
      const delivery = record(message.delivery) ?? {};
      const recipients = Array.isArray(delivery.recipients) && delivery.recipients.length > 0 ? delivery.recipients : destination;
      return recipients.map((recipient) => ({
        status: 'delivered' as const,
        occurredAt: fromIsoTime(delivery.timestamp, fallback),
        recipient,
        reason: text(delivery.smtpResponse),
      }));
    }
    case 'DeliveryDelay': {
      const delay = record(message.deliveryDelay) ?? {};
      return recipientsOr(delay.delayedRecipients, destination).map((recipient) => ({
        status: 'delayed' as const,
        occurredAt: fromIsoTime(delay.timestamp, fallback),
        recipient: recipient.emailAddress,
        reason: text(recipient.diagnosticCode) ?? text(delay.delayType),
      }));
    }
    case 'Send':
      return each('sent', sentAt);
    case 'Reject':
      return each('rejected', sentAt, { reason: text(record(message.reject)?.reason) });
    case 'Rendering Failure':
      return each('rejected', sentAt, { reason: text(record(message.failure)?.errorMessage) });
    case 'Open': {
      const open = record(message.open) ?? {};
      return once('opened', fromIsoTime(open.timestamp, fallback), { ip: text(open.ipAddress), userAgent: text(open.userAgent) });
    }
    case 'Click': {
      const click = record(message.click) ?? {};
      return once('clicked', fromIsoTime(click.timestamp, fallback), { url: text(click.link), ip: text(click.ipAddress), userAgent: text(click.userAgent) });
    }
    case 'Subscription': {
      const subscription = record(message.subscription) ?? {};
      const preferences = record(subscription.newTopicPreferences) ?? {};
      const optedOut =
        preferences.unsubscribeAll === true || list(preferences.topicSubscriptionStatus).some((topic) => topic.subscriptionStatus === 'OptOut');
      return each(optedOut ? 'unsubscribed' : null, fromIsoTime(subscription.timestamp, fallback), { reason: text(subscription.source) });
    }
    default:
      return each(null, sentAt);
  }
}

function readEnvelope(request: InboundRequest): Envelope {
  const envelope = record(parseJson(request.rawBody.toString('utf8')));
  if (!envelope) throw new MailtrailError('MT_ERR_INVALID_BODY', 'the body is not an SNS message');
  return envelope;
}

function stringToSign(envelope: Envelope, fields: readonly string[]): string {
  let result = '';
  for (const field of fields) {
    const value = envelope[field];
    if (typeof value === 'string') result += `${field}\n${value}\n`;
  }
  return result;
}

function topicAllowed(patterns: unknown, topic: string | undefined): boolean {
  if (!Array.isArray(patterns) || topic === undefined) return false;
  const parts = topic.split(':');
  return patterns.some((pattern) => {
    const wanted = String(pattern).split(':');
    return wanted.length === parts.length && wanted.every((part, index) => part === '*' || part === parts[index]);
  });
}

/** A confirmation URL: https on an SNS host, at its root, with no userinfo or port. */
function isSnsUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.username === '' && url.password === '' && url.port === '' && SNS_HOST.test(url.hostname) && url.pathname === '/';
  } catch {
    return false;
  }
}

function bounceTypeOf(type: string | undefined): BounceType {
  if (type === 'Permanent') return 'hard';
  if (type === 'Transient') return 'soft';
  return 'undetermined';
}

/** SES mail tags are lists: `{"mailtrail_id": ["msg_…"]}`. */
function mailtrailIdOf(tags: unknown): string | undefined {
  const value = record(tags)?.mailtrail_id;
  return bounded(text(Array.isArray(value) ? value[0] : value));
}

/** The recipients an event names, or, when it names none, every recipient of the mail. */
function recipientsOr(value: unknown, destination: unknown[]): Record<string, unknown>[] {
  const named = list(value);
  return named.length > 0 ? named : destination.map((emailAddress) => ({ emailAddress }));
}

function list(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.map((entry) => record(entry) ?? {}) : [];
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}
