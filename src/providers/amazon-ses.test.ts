import { execFileSync } from 'node:child_process';
import { createSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { StatusMapping } from '../core/status-mapping.js';
import { amazonSes } from './amazon-ses.js';
import type { InboundRequest, ProviderContext } from './types.js';

const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/amazon-ses/aws-ses-sns.json', import.meta.url), 'utf8')) as {
  signing_certificate: { url: string; pem: string };
  official_vectors: { name: string; raw_body: string; expect_valid: boolean }[];
  constructed_vectors: { test_certificate_pem: string; test_private_key_pem: string; signing_cert_url: string; vectors: { name: string; message: Record<string, string> }[] };
  sample_payloads: { name: string; raw: string; json: Record<string, unknown> }[];
};
const constructed = fixture.constructed_vectors;

/** Serves the two certificates of the fixture by URL, and records the confirmation calls. */
function context(responses: Record<string, { status: number; body: string }> = {}) {
  const fetched: string[] = [];
  const certificates: Record<string, string> = {
    [fixture.signing_certificate.url]: fixture.signing_certificate.pem,
    [constructed.signing_cert_url]: constructed.test_certificate_pem,
  };
  const value: ProviderContext = {
    async fetchText(url) {
      fetched.push(url);
      const response = responses[url];
      if (!response) throw new Error('connection refused');
      return response;
    },
    async certificate(url) {
      const pem = certificates[url];
      if (!pem) throw new Error(`no certificate at ${url}`);
      return pem;
    },
  };
  return { context: value, fetched };
}

const ANY_TOPIC = { topicArns: ['arn:aws:sns:*:*:*'] };

function request(body: string, settings: Record<string, unknown> = ANY_TOPIC, headers: Record<string, string> = {}, statusMapping?: StatusMapping): InboundRequest {
  return {
    rawBody: Buffer.from(body),
    headers: new Map(Object.entries(headers)),
    url: 'https://mailtrail.example/',
    contentType: 'text/plain',
    receivedAt: Date.parse('2026-11-22T00:00:00Z'),
    settings,
    statusMapping,
  };
}

/** Signs an SNS message with the fixture's throwaway test key, the way SNS does. */
function signed(message: Record<string, string>, version: '1' | '2' = '2'): string {
  const fields =
    message.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  const text = fields.filter((field) => message[field] !== undefined).map((field) => `${field}\n${message[field]}\n`).join('');
  const signer = createSign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256');
  signer.update(text);
  return JSON.stringify({ ...message, SignatureVersion: version, SigningCertURL: constructed.signing_cert_url, Signature: signer.sign(constructed.test_private_key_pem, 'base64') });
}

function notification(sesEvent: unknown, overrides: Record<string, string> = {}): string {
  return signed({
    Type: 'Notification',
    MessageId: 'b1c2d3e4-0000-4000-8000-000000000001',
    TopicArn: 'arn:aws:sns:us-east-1:123456789012:ses-events',
    Message: typeof sesEvent === 'string' ? sesEvent : JSON.stringify(sesEvent),
    Timestamp: '2026-11-21T23:59:00.000Z',
    ...overrides,
  });
}

describe('amazonSes.verify with the real AWS-signed messages and certificate', () => {
  for (const vector of fixture.official_vectors) {
    it(`${vector.name} → ${vector.expect_valid ? 'valid' : 'rejected'}`, async () => {
      expect((await amazonSes.verify(request(vector.raw_body), null, context().context)).ok).toBe(vector.expect_valid);
    });
  }
  const sha1 = fixture.official_vectors[0]!.raw_body;

  it('refuses a tampered Message', async () => {
    const result = await amazonSes.verify(request(sha1.replace('"Message" : "', '"Message" : "x')), null, context().context);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('refuses the signature checked with the other hash (version 1 claimed as 2)', async () => {
    const result = await amazonSes.verify(request(sha1.replace('"SignatureVersion" : "1"', '"SignatureVersion" : "2"')), null, context().context);
    expect(result.ok).toBe(false);
  });
  it('refuses an unknown SignatureVersion', async () => {
    const result = await amazonSes.verify(request(sha1.replace('"SignatureVersion" : "1"', '"SignatureVersion" : "3"')), null, context().context);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it.each([
    ['a foreign host', 'https://sns.us-east-2.amazonaws.com.evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem'],
    ['http', 'http://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem'],
    ['userinfo before the host', 'https://sns.us-east-2.amazonaws.com@evil.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem'],
    ['another path', 'https://sns.us-east-2.amazonaws.com/other/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem'],
    ['a port', 'https://sns.us-east-2.amazonaws.com:8443/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem'],
    ['a query', 'https://sns.us-east-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem?n=1'],
    ['an S3 bucket host', 'https://sns.s3-us-west-2.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem'],
    ['a name that is not a certificate id', 'https://sns.us-east-2.amazonaws.com/SimpleNotificationService-abc.pem'],
  ])('refuses a certificate URL with %s, without fetching it', async (_, url) => {
    const body = sha1.replace(fixture.signing_certificate.url, url);
    const { context: ctx } = context();
    let asked = false;
    const result = await amazonSes.verify(request(body), null, { ...ctx, certificate: async (u) => ((asked = true), ctx.certificate(u)) });
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
    expect(asked).toBe(false);
  });
  it('refuses a message without a signature', async () => {
    const body = JSON.stringify({ ...JSON.parse(sha1), Signature: undefined });
    expect(await amazonSes.verify(request(body), null, context().context)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
  });
  it('refuses raw message delivery, which is never signed', async () => {
    expect(await amazonSes.verify(request('{}', {}, { 'x-amz-sns-rawdelivery': 'true' }), null, context().context)).toMatchObject({
      ok: false,
      code: 'MT_ERR_SIGNATURE_MISSING',
    });
  });
  it('refuses a topic the integration does not list, and accepts one it does, or one its wildcards cover', async () => {
    const topic = JSON.parse(sha1).TopicArn as string;
    const verdict = async (topicArns: string[] | undefined) => (await amazonSes.verify(request(sha1, topicArns ? { topicArns } : {}), null, context().context));
    expect(await verdict(['arn:aws:sns:us-east-2:295079676684:other'])).toMatchObject({ ok: false, code: 'MT_ERR_FORBIDDEN' });
    expect(await verdict(['arn:aws:sns:*:999999999999:*'])).toMatchObject({ ok: false, code: 'MT_ERR_FORBIDDEN' });
    expect(await verdict(undefined)).toMatchObject({ ok: false, code: 'MT_ERR_FORBIDDEN' });
    expect((await verdict([topic])).ok).toBe(true);
    expect((await verdict(['arn:aws:sns:us-east-2:295079676684:*'])).ok).toBe(true);
  });
  it('refuses a topic it does not accept before fetching any certificate', async () => {
    const { context: ctx } = context();
    let asked = false;
    const result = await amazonSes.verify(request(sha1, { topicArns: ['arn:aws:sns:us-east-1:111111111111:x'] }), null, { ...ctx, certificate: async (u) => ((asked = true), ctx.certificate(u)) });
    expect(result.ok).toBe(false);
    expect(asked).toBe(false);
  });
  it('refuses a message checked against a certificate that did not sign it', async () => {
    const { context: ctx } = context();
    const result = await amazonSes.verify(request(sha1), null, { ...ctx, certificate: async () => constructed.test_certificate_pem });
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('refuses a certificate not issued to sns.amazonaws.com, even with the right key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-cert-'));
    writeFileSync(join(dir, 'key.pem'), constructed.test_private_key_pem);
    execFileSync('openssl', ['req', '-new', '-x509', '-key', join(dir, 'key.pem'), '-subj', '/CN=sns.evil.example', '-days', '1', '-out', join(dir, 'cert.pem')]);
    const impostor = readFileSync(join(dir, 'cert.pem'), 'utf8');
    rmSync(dir, { recursive: true, force: true });
    const body = notification({ eventType: 'Send', mail: { messageId: 'm1' } });
    const { context: ctx } = context();
    expect((await amazonSes.verify(request(body), null, ctx)).ok).toBe(true);
    expect(await amazonSes.verify(request(body), null, { ...ctx, certificate: async () => impostor })).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
});

describe('amazonSes.verify with the constructed confirmations', () => {
  for (const vector of constructed.vectors) {
    it(`${vector.name} verifies`, async () => {
      expect((await amazonSes.verify(request(JSON.stringify(vector.message)), null, context().context)).ok).toBe(true);
    });
    it(`${vector.name} with its Token changed fails (the Token is signed)`, async () => {
      const message = { ...vector.message, ...(vector.message.Token ? { Token: 'x' + vector.message.Token } : { Message: vector.message.Message + ' ' }) };
      expect((await amazonSes.verify(request(JSON.stringify(message)), null, context().context)).ok).toBe(false);
    });
  }
});

describe('amazonSes.handshake', () => {
  const confirmation = constructed.vectors.find((vector) => vector.message.Type === 'SubscriptionConfirmation')!.message;
  const unsubscribe = constructed.vectors.find((vector) => vector.message.Type === 'UnsubscribeConfirmation')!.message;

  it('confirms a subscription by fetching its SubscribeURL, and records the subscription ARN', async () => {
    const arn = 'arn:aws:sns:us-west-2:123456789012:MyTopic:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55';
    const xml = `<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><ConfirmSubscriptionResult><SubscriptionArn>${arn}</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`;
    const { context: ctx, fetched } = context({ [confirmation.SubscribeURL!]: { status: 200, body: xml } });
    const handshake = await amazonSes.handshake(request(JSON.stringify(confirmation)), ctx);
    expect(fetched).toEqual([confirmation.SubscribeURL]);
    expect(handshake).toMatchObject({ kind: 'subscription_confirmed', topic: confirmation.TopicArn });
    expect(handshake!.detail).toContain(arn);
  });
  it('reports a confirmation SNS refused or could not be reached, to be answered as unreachable (the default)', async () => {
    const refused = await amazonSes.handshake(request(JSON.stringify(confirmation)), context({ [confirmation.SubscribeURL!]: { status: 403, body: 'denied' } }).context);
    expect(refused).toMatchObject({ kind: 'subscription_confirmation_failed' });
    expect(refused!.code).toBeUndefined();
    const unreachable = await amazonSes.handshake(request(JSON.stringify(confirmation)), context().context);
    expect(unreachable).toMatchObject({ kind: 'subscription_confirmation_failed' });
    expect(unreachable!.code).toBeUndefined();
  });
  it.each([
    'https://169.254.169.254/latest/meta-data/',
    'http://127.0.0.1:9/?Action=ConfirmSubscription',
    'https://localhost/?Action=ConfirmSubscription',
    'https://sns.us-east-1.amazonaws.com@127.0.0.1/?Action=ConfirmSubscription',
    'http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription',
    'https://sns.us-east-1.amazonaws.com.evil.com/?Action=ConfirmSubscription',
    'https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription',
    'not a url',
  ])('never fetches the SubscribeURL %s, and reports it as invalid, not unreachable', async (SubscribeURL) => {
    const { context: ctx, fetched } = context();
    const handshake = await amazonSes.handshake(request(JSON.stringify({ ...confirmation, SubscribeURL })), ctx);
    expect(handshake).toMatchObject({ kind: 'subscription_confirmation_failed', code: 'MT_ERR_SUBSCRIBE_URL_INVALID', topic: confirmation.TopicArn });
    expect(fetched).toEqual([]);
  });
  it('reports a confirmation with no SubscribeURL as invalid', async () => {
    const { SubscribeURL: _url, ...withoutUrl } = confirmation;
    expect(await amazonSes.handshake(request(JSON.stringify(withoutUrl)), context().context)).toMatchObject({ code: 'MT_ERR_SUBSCRIBE_URL_INVALID' });
  });
  it('records an unsubscribe without acting on it', async () => {
    const { context: ctx, fetched } = context();
    expect(await amazonSes.handshake(request(JSON.stringify(unsubscribe)), ctx)).toMatchObject({ kind: 'unsubscribed', topic: unsubscribe.TopicArn });
    expect(fetched).toEqual([]);
  });
  it('leaves notifications to parse', async () => {
    expect(await amazonSes.handshake(request(fixture.official_vectors[0]!.raw_body), context().context)).toBeNull();
  });
});

describe('amazonSes.parse', () => {
  const sample = (eventType: string) => fixture.sample_payloads.find((payload) => payload.name.endsWith(eventType))!.raw;
  const parse = (sesEvent: unknown, overrides: Record<string, string> = {}) => amazonSes.parse(request(notification(sesEvent, overrides)));

  it.each([
    ['eventType=Bounce', 'bounced', '2017-08-05T00:41:02.669Z', { bounceType: 'hard', reason: 'smtp; 550 5.1.1 user unknown' }],
    ['eventType=Complaint', 'complaint', '2017-08-05T00:41:02.669Z', {}],
    ['eventType=Delivery', 'delivered', null, {}],
    ['eventType=Send', 'sent', '2016-10-14T05:02:16.645Z', {}],
    ['eventType=Reject', 'rejected', '2016-10-14T17:38:15.211Z', { reason: 'Bad content' }],
    ['eventType=Open', 'opened', '2017-08-09T22:00:19.652Z', { ip: '192.0.2.1' }],
    ['eventType=Click', 'clicked', '2017-08-09T23:51:25.570Z', { url: 'http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html' }],
    ['eventType=Rendering Failure', 'rejected', '2018-01-22T18:43:06.197Z', { reason: "Attribute 'attributeName' is not present in the rendering data." }],
    ['eventType=DeliveryDelay', 'delayed', '2020-06-16T00:25:40.095Z', { reason: 'smtp; 421 4.4.1 Unable to connect to remote host' }],
    ['eventType=Subscription', 'unsubscribed', '2022-01-12T01:00:17.910Z', {}],
  ])('reads the documented %s record as %s, at the time of the event', (name, status, time, extra) => {
    const json = JSON.parse(sample(name));
    const events = parse(sample(name));
    expect(events.length).toBeGreaterThan(0);
    for (const event of events) {
      expect(event).toMatchObject({ status, nativeType: json.eventType, providerMessageId: json.mail.messageId, ...extra });
      if (time) expect(event.occurredAt).toBe(Date.parse(time));
      expect(event.dedupeKey).toBe(`sns:b1c2d3e4-0000-4000-8000-000000000001:${event.recipient ?? ''}`);
    }
  });

  it('uses the delivery time, not the send time, for a delivery', () => {
    const json = JSON.parse(sample('eventType=Delivery'));
    const [event] = parse(sample('eventType=Delivery'));
    expect(event!.occurredAt).toBe(Date.parse(json.delivery.timestamp));
    expect(event!.occurredAt).not.toBe(Date.parse(json.mail.timestamp));
  });

  it('makes one event per bounced recipient of an older feedback notification, each with its own key', () => {
    const twoRecipients = fixture.sample_payloads.filter((payload) => payload.name.endsWith('notificationType=Bounce'))[1]!.raw;
    const events = parse(twoRecipients);
    expect(events.map((event) => [event.status, event.recipient, event.bounceType])).toEqual([
      ['bounced', 'jane@example.com', 'hard'],
      ['bounced', 'richard@example.com', 'hard'],
    ]);
    expect(new Set(events.map((event) => event.dedupeKey)).size).toBe(2);
  });

  it('reads every older feedback notification', () => {
    for (const payload of fixture.sample_payloads.filter((p) => p.name.includes('older format'))) {
      const events = parse(payload.raw);
      const expected = { Bounce: 'bounced', Complaint: 'complaint', Delivery: 'delivered' }[payload.json.notificationType as string];
      expect(events.length).toBeGreaterThan(0);
      for (const event of events) expect(event.status).toBe(expected);
    }
  });

  it.each(['contract', 'precise'] as const)('classifies transient and undetermined bounces the same under %s', (mapping) => {
    const bounce = (bounceType: string) =>
      amazonSes.parse(
        request(notification({ eventType: 'Bounce', bounce: { bounceType, bounceSubType: 'General', bouncedRecipients: [{ emailAddress: 'a@example.com' }] }, mail: { messageId: 'm1' } }), ANY_TOPIC, {}, mapping),
      )[0]!;
    expect(bounce('Transient')).toMatchObject({ status: 'bounced', bounceType: 'soft' });
    expect(bounce('Undetermined')).toMatchObject({ status: 'bounced', bounceType: 'undetermined' });
  });

  it('a bounce to a suppressed address is dropped under precise, bounced under the contract (and by default), with its bounce type', () => {
    for (const bounceSubType of ['Suppressed', 'OnAccountSuppressionList']) {
      const body = notification({ eventType: 'Bounce', bounce: { bounceType: 'Permanent', bounceSubType, bouncedRecipients: [{ emailAddress: 'a@example.com' }] }, mail: { messageId: 'm1' } });
      const [precise] = amazonSes.parse(request(body, ANY_TOPIC, {}, 'precise'));
      expect(precise).toMatchObject({ status: 'dropped', bounceType: 'hard', reason: `Permanent/${bounceSubType}` });
      expect(amazonSes.parse(request(body, ANY_TOPIC, {}, 'contract'))).toEqual([{ ...precise, status: 'bounced' }]);
      expect(amazonSes.parse(request(body))).toEqual([{ ...precise, status: 'bounced' }]);
    }
  });

  it('keeps a notification that names no recipient: the mail\'s recipients, or once for the message', () => {
    const bounce = parse({ eventType: 'Bounce', bounce: { bounceType: 'Permanent', timestamp: '2026-11-21T10:00:00Z' }, mail: { messageId: 'm1', destination: ['a@example.com'] } });
    expect(bounce.map((event) => [event.status, event.recipient])).toEqual([['bounced', 'a@example.com']]);
    const delivery = parse({ eventType: 'Delivery', delivery: { recipients: [], timestamp: '2026-11-21T10:00:00Z' }, mail: { messageId: 'm1', destination: [] } });
    expect(delivery.map((event) => [event.status, event.recipient])).toEqual([['delivered', undefined]]);
  });

  it('counts one open or click once, however many recipients the mail had', () => {
    const mail = { messageId: 'm1', destination: ['a@example.com', 'cc@example.com', 'bcc@example.com'] };
    expect(parse({ eventType: 'Open', open: { timestamp: '2026-11-21T10:00:00Z' }, mail })).toHaveLength(1);
    expect(parse({ eventType: 'Click', click: { timestamp: '2026-11-21T10:00:00Z', link: 'https://x' }, mail })).toHaveLength(1);
    expect(parse({ eventType: 'Send', mail, send: {} })).toHaveLength(3);
  });

  it('refuses an SES event naming more recipients than SES sends to', () => {
    const destination = Array.from({ length: 51 }, (_, index) => `r${index}@example.com`);
    expect(() => parse({ eventType: 'Send', mail: { messageId: 'm1', destination }, send: {} })).toThrow(expect.objectContaining({ code: 'MT_ERR_INVALID_BODY' }));
  });

  it('reads our id from the mail tags', () => {
    const [event] = parse({ eventType: 'Send', mail: { messageId: 'm1', timestamp: '2026-11-21T10:00:00Z', destination: ['A@example.com'], tags: { mailtrail_id: ['msg_x'] } }, send: {} });
    expect(event).toMatchObject({ mailtrailId: 'msg_x', recipient: 'a@example.com' });
  });

  it('keeps the exact envelope as the raw event', () => {
    const body = notification({ eventType: 'Send', mail: { messageId: 'm1', destination: ['a@example.com'] } });
    expect(amazonSes.parse(request(body))[0]!.raw).toBe(body);
  });

  it('keeps a message that is not an SES event (a topic test message) as ignored', () => {
    const [event] = amazonSes.parse(request(fixture.official_vectors[0]!.raw_body));
    expect(event).toMatchObject({ status: null, nativeType: 'sns:Notification', dedupeKey: 'sns:792cda85-518f-5dd3-9163-81d851212f3a' });
  });

  it('keeps an SES event type it does not know as ignored, once per recipient', () => {
    const events = parse({ eventType: 'Something New', mail: { messageId: 'm1', destination: ['a@example.com', 'b@example.com'] } });
    expect(events.map((event) => [event.status, event.recipient])).toEqual([
      [null, 'a@example.com'],
      [null, 'b@example.com'],
    ]);
  });

  it.each(['not json', '[]', '"x"'])('refuses the body %s', (body) => {
    expect(() => amazonSes.parse(request(body))).toThrow(expect.objectContaining({ code: 'MT_ERR_INVALID_BODY' }));
  });

  it('checks topic settings at configuration time, and requires them', () => {
    expect(amazonSes.checkSettings({ topicArns: ['arn:aws:sns:us-east-1:123456789012:ses-events'] })).toBeNull();
    expect(amazonSes.checkSettings({ topicArns: ['arn:aws:sns:*:123456789012:*'] })).toBeNull();
    expect(amazonSes.checkSettings({})).toMatch(/topicArns must list/);
    expect(amazonSes.checkSettings({ topicArns: ['not an arn'] })).toMatch(/topicArns must list/);
    expect(amazonSes.checkSettings({ topicArns: [] })).toMatch(/topicArns must list/);
    expect(amazonSes.checkSettings({ other: 1 })).toMatch(/unknown setting/);
  });
});
