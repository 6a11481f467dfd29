import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StatusMapping } from '../core/status-mapping.js';
import { sendgrid } from './sendgrid.js';
import type { InboundRequest } from './types.js';

interface Vector {
  name: string;
  source: string;
  public_key_base64_spki_der: string;
  private_key_base64_sec1_der?: string;
  header_X_Twilio_Email_Event_Webhook_Timestamp: string;
  header_X_Twilio_Email_Event_Webhook_Signature: string;
  raw_body: string;
  expect_valid: boolean;
}

const fixtures = JSON.parse(readFileSync(new URL('../../test/fixtures/sendgrid/vectors.json', import.meta.url), 'utf8')) as {
  official_vectors: Vector[];
  constructed_vectors: Vector[];
  sample_payloads: { name: string; raw: string }[];
};

function request(body: string, headers: Record<string, string> = {}, statusMapping?: StatusMapping): InboundRequest {
  return {
    rawBody: Buffer.from(body, 'utf8'),
    headers: new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
    url: 'http://localhost/',
    contentType: 'application/json',
    receivedAt: 1_700_000_000_000,
    settings: {},
    statusMapping,
  };
}

function vectorRequest(vector: Vector): InboundRequest {
  return request(vector.raw_body, {
    'X-Twilio-Email-Event-Webhook-Signature': vector.header_X_Twilio_Email_Event_Webhook_Signature,
    'X-Twilio-Email-Event-Webhook-Timestamp': vector.header_X_Twilio_Email_Event_Webhook_Timestamp,
  });
}

describe('sendgrid.verify with the official vectors', () => {
  for (const vector of [...fixtures.official_vectors, ...fixtures.constructed_vectors]) {
    it(`${vector.name} → ${vector.expect_valid ? 'valid' : 'rejected'}`, () => {
      const result = sendgrid.verify(vectorRequest(vector), vector.public_key_base64_spki_der);
      expect(result.ok).toBe(vector.expect_valid);
    });
  }
});

describe('sendgrid.verify, one broken thing at a time', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicKeyBase64 = publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const body = '[{"email":"a@example.com","event":"delivered","timestamp":1700000000,"sg_event_id":"e1"}]\r\n';
  const timestamp = '1700000000';
  const signature = sign('sha256', Buffer.from(timestamp + body), { key: privateKey, dsaEncoding: 'der' }).toString('base64');
  const headers = { 'X-Twilio-Email-Event-Webhook-Signature': signature, 'X-Twilio-Email-Event-Webhook-Timestamp': timestamp };

  it('a correctly signed batch is valid', () => {
    expect(sendgrid.verify(request(body, headers), publicKeyBase64)).toEqual({ ok: true });
  });
  it('a tampered body fails', () => {
    expect(sendgrid.verify(request(body.replace('delivered', 'bounce'), headers), publicKeyBase64).ok).toBe(false);
  });
  it('a re-serialized body fails (the trailing CRLF is signed)', () => {
    expect(sendgrid.verify(request(body.trimEnd(), headers), publicKeyBase64).ok).toBe(false);
  });
  it('another timestamp fails', () => {
    expect(sendgrid.verify(request(body, { ...headers, 'X-Twilio-Email-Event-Webhook-Timestamp': '1700000001' }), publicKeyBase64).ok).toBe(false);
  });
  it('a missing signature header is reported as missing', () => {
    const result = sendgrid.verify(request(body, { 'X-Twilio-Email-Event-Webhook-Timestamp': timestamp }), publicKeyBase64);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
  });
  it('a missing timestamp header is reported as missing', () => {
    const result = sendgrid.verify(request(body, { 'X-Twilio-Email-Event-Webhook-Signature': signature }), publicKeyBase64);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
  });
  it('a garbage signature fails without throwing', () => {
    expect(sendgrid.verify(request(body, { ...headers, 'X-Twilio-Email-Event-Webhook-Signature': '!!!' }), publicKeyBase64)).toMatchObject({
      ok: false,
      code: 'MT_ERR_SIGNATURE_INVALID',
    });
  });
  it('the Go test private key signs what its public key verifies', () => {
    const go = fixtures.official_vectors.find((vector) => vector.private_key_base64_sec1_der)!;
    const key = createPrivateKey({ key: Buffer.from(go.private_key_base64_sec1_der!, 'base64'), format: 'der', type: 'sec1' });
    const fresh = sign('sha256', Buffer.from('1' + body), { key, dsaEncoding: 'der' }).toString('base64');
    const result = sendgrid.verify(
      request(body, { 'X-Twilio-Email-Event-Webhook-Signature': fresh, 'X-Twilio-Email-Event-Webhook-Timestamp': '1' }),
      go.public_key_base64_spki_der,
    );
    expect(result.ok).toBe(true);
  });
});

describe('sendgrid.checkSigningKey', () => {
  it('accepts a P-256 public key and refuses anything else', () => {
    expect(sendgrid.checkSigningKey(fixtures.official_vectors[0]!.public_key_base64_spki_der)).toBeNull();
    expect(sendgrid.checkSigningKey('not a key')).toMatch(/public key/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(sendgrid.checkSigningKey(rsa)).toMatch(/P-256/);
  });
});

describe('sendgrid.parse', () => {
  it('keeps event names that are names of object properties (constructor, toString) as ignored', () => {
    const events = sendgrid.parse(request('[{"event":"constructor","email":"a@example.com"},{"event":"toString","email":"a@example.com"}]'));
    expect(events.map((event) => [event.nativeType, event.status])).toEqual([
      ['constructor', null],
      ['toString', null],
    ]);
  });

  it.each(['contract', 'precise'] as const)('maps every event of the docs batch the same under %s, keeping each raw event exactly', (mapping) => {
    const sample = fixtures.sample_payloads[0]!;
    const events = sendgrid.parse(request(sample.raw, {}, mapping));
    expect(events.map((event) => [event.nativeType, event.status])).toEqual([
      ['processed', 'sent'],
      ['deferred', 'delayed'],
      ['delivered', 'delivered'],
      ['open', 'opened'],
      ['click', 'clicked'],
      ['bounce', 'bounced'],
      ['dropped', 'dropped'],
      ['spamreport', 'complaint'],
      ['unsubscribe', 'unsubscribed'],
      ['group_unsubscribe', 'unsubscribed'],
      ['group_resubscribe', null],
    ]);
    for (const event of events) {
      expect(sample.raw).toContain(event.raw);
      expect(event.occurredAt).toBe(1513299569000);
    }
    expect(new Set(events.map((event) => event.dedupeKey)).size).toBe(events.length);
    expect(events[1]).toMatchObject({ attempts: 5, reason: '400 try again later' });
    expect(events[4]).toMatchObject({ url: 'http://www.sendgrid.com/', ip: '255.255.255.255' });
  });

  it('classifies bounce and blocked: a block is blocked under precise, bounced under the contract (and by default), bounce type block under both', () => {
    for (const mapping of ['precise', 'contract', undefined] as const) {
      const [hard] = sendgrid.parse(request(fixtures.sample_payloads[1]!.raw, {}, mapping));
      expect(hard, mapping).toMatchObject({ status: 'bounced', bounceType: 'hard', providerMessageId: '14c5d75ce93' });
    }
    const [precise] = sendgrid.parse(request(fixtures.sample_payloads[2]!.raw, {}, 'precise'));
    const [contract] = sendgrid.parse(request(fixtures.sample_payloads[2]!.raw, {}, 'contract'));
    const [unset] = sendgrid.parse(request(fixtures.sample_payloads[2]!.raw));
    expect(precise).toMatchObject({ status: 'blocked', bounceType: 'block' });
    expect(contract).toEqual({ ...precise, status: 'bounced' });
    expect(unset).toEqual(contract);
  });

  it('reads the message id before the first dot and our id from custom args', () => {
    const vector = fixtures.official_vectors[0]!;
    const [event] = sendgrid.parse(request(vector.raw_body.replace('"email"', '"mailtrail_id":"msg_1","email"')));
    expect(event).toMatchObject({ providerMessageId: 'LRzXl_NHStOGhQ4kofSm_A', mailtrailId: 'msg_1', recipient: 'hello@world.com', status: 'dropped' });
  });

  it('treats a single object as a batch of one and keeps unknown types as ignored', () => {
    const go = fixtures.official_vectors.find((vector) => vector.private_key_base64_sec1_der)!;
    const events = sendgrid.parse(request(go.raw_body));
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ status: null, nativeType: 'test_event', raw: go.raw_body });
  });

  it('uses the time the batch arrived only when the event has no usable timestamp of its own', () => {
    const [missing, garbage, stringy, fractional] = sendgrid.parse(
      request('[{"event":"open","sg_event_id":"a"},{"event":"open","timestamp":1e300,"sg_event_id":"b"},{"event":"open","timestamp":"1600000000","sg_event_id":"c"},{"event":"open","timestamp":1600000000.25,"sg_event_id":"d"}]'),
    );
    expect(missing!.occurredAt).toBe(1_700_000_000_000);
    expect(garbage!.occurredAt).toBe(1_700_000_000_000);
    expect(stringy!.occurredAt).toBe(1_600_000_000_000);
    expect(fractional!.occurredAt).toBe(1_600_000_000_250);
  });

  it('marks machine opens', () => {
    const [event] = sendgrid.parse(request('[{"event":"open","email":"a@b.c","timestamp":1,"sg_machine_open":true,"sg_event_id":"x"}]'));
    expect(event).toMatchObject({ status: 'opened', machine: true });
  });

  it('refuses a body that is not JSON, and a batch with a non-object in it', () => {
    expect(() => sendgrid.parse(request('[{"event":'))).toThrow(/not valid JSON/);
    expect(() => sendgrid.parse(request('[{"event":"open"}, 3]'))).toThrow(/event 1/);
  });
});
