import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StatusMapping } from '../core/status-mapping.js';
import { resend } from './resend.js';
import { standardWebhooksKey, standardWebhooksSignature } from './standard-webhooks.js';
import type { InboundRequest } from './types.js';

interface SvixVector {
  name: string;
  source: string;
  secret: string;
  'svix-id': string;
  'svix-timestamp': string;
  'svix-signature': string;
  raw_body: string;
  expect_valid: boolean;
}

const fixture = (name: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/resend/${name}`, import.meta.url), 'utf8'));
const svix = fixture('svix.json') as { official_vectors: SvixVector[]; constructed_vectors: SvixVector[] };
const samples = fixture('resend.json') as { sample_payloads: { name: string; raw: string }[]; event_types_sdk: string[] };

function request(body: string, headers: Record<string, string>, receivedAt: number, statusMapping?: StatusMapping): InboundRequest {
  return { rawBody: Buffer.from(body), headers: new Map(Object.entries(headers)), url: 'https://mailtrail.example/', contentType: 'application/json', receivedAt, settings: {}, statusMapping };
}

function vectorRequest(vector: SvixVector, receivedAt = Number(vector['svix-timestamp']) * 1000): InboundRequest {
  return request(vector.raw_body, { 'svix-id': vector['svix-id'], 'svix-timestamp': vector['svix-timestamp'], 'svix-signature': vector['svix-signature'] }, receivedAt);
}

describe('resend.verify with the Svix / Standard Webhooks vectors', () => {
  for (const vector of [...svix.official_vectors, ...svix.constructed_vectors]) {
    it(`${vector.name} → ${vector.expect_valid ? 'valid' : 'rejected'}`, () => {
      expect(resend.verify(vectorRequest(vector), vector.secret).ok).toBe(vector.expect_valid);
    });
  }

  const vector = svix.official_vectors[0]!;
  const signedAt = Number(vector['svix-timestamp']) * 1000;
  it('accepts a timestamp exactly 300 s old and refuses 301 s, either way', () => {
    expect(resend.verify(vectorRequest(vector, signedAt + 300_000), vector.secret).ok).toBe(true);
    expect(resend.verify(vectorRequest(vector, signedAt + 301_000), vector.secret)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_EXPIRED' });
    expect(resend.verify(vectorRequest(vector, signedAt - 301_000), vector.secret)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_EXPIRED' });
  });
  it('accepts the webhook-* header names as well', () => {
    const headers = { 'webhook-id': vector['svix-id'], 'webhook-timestamp': vector['svix-timestamp'], 'webhook-signature': vector['svix-signature'] };
    expect(resend.verify(request(vector.raw_body, headers, signedAt), vector.secret).ok).toBe(true);
  });
  it('refuses a tampered body', () => {
    const tampered = { ...vector, raw_body: vector.raw_body.replace('2432232314', '2432232315') };
    expect(resend.verify(vectorRequest(tampered), vector.secret)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('refuses another secret', () => {
    expect(resend.verify(vectorRequest(vector), 'whsec_' + Buffer.alloc(24, 7).toString('base64'))).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('refuses webhook-* and svix-* headers that disagree, so a replay cannot change the id it is deduplicated on', () => {
    const headers = {
      'webhook-id': vector['svix-id'],
      'webhook-timestamp': vector['svix-timestamp'],
      'webhook-signature': vector['svix-signature'],
      'svix-id': 'msg_fresh_for_every_replay',
    };
    expect(resend.verify(request(vector.raw_body, headers, signedAt), vector.secret)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
    const agreeing = { ...headers, 'svix-id': vector['svix-id'] };
    expect(resend.verify(request(vector.raw_body, agreeing, signedAt), vector.secret).ok).toBe(true);
    expect(resend.parse(request('{"type":"email.sent","data":{}}', agreeing, signedAt))[0]!.dedupeKey).toBe(`svix:${vector['svix-id']}`);
  });
  it('refuses another id (the id is signed)', () => {
    expect(resend.verify(vectorRequest({ ...vector, 'svix-id': 'msg_other' }), vector.secret)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('refuses signatures of other versions only', () => {
    const v2Only = vector['svix-signature'].replace('v1,', 'v2,');
    expect(resend.verify(vectorRequest({ ...vector, 'svix-signature': v2Only }), vector.secret).ok).toBe(false);
  });
  for (const missing of ['svix-id', 'svix-timestamp', 'svix-signature'] as const) {
    it(`reports a missing ${missing} header as missing`, () => {
      const headers: Record<string, string> = { 'svix-id': vector['svix-id'], 'svix-timestamp': vector['svix-timestamp'], 'svix-signature': vector['svix-signature'] };
      delete headers[missing];
      expect(resend.verify(request(vector.raw_body, headers, signedAt), vector.secret)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
    });
  }
  it('checks signing secrets at configuration time', () => {
    expect(resend.checkSigningKey(vector.secret)).toBeNull();
    expect(resend.checkSigningKey('not a secret')).toMatch(/whsec_/);
  });
  it('signs the way it verifies', () => {
    const key = standardWebhooksKey(vector.secret)!;
    expect(standardWebhooksSignature(key, vector['svix-id'], vector['svix-timestamp'], vector.raw_body)).toBe(vector['svix-signature']);
  });
});

describe('resend.parse', () => {
  const at = Date.parse('2024-01-15T12:00:05Z');
  const parse = (body: unknown, id = 'msg_1') => resend.parse(request(typeof body === 'string' ? body : JSON.stringify(body), { 'svix-id': id }, at));

  it('reads the documented email.delivered example', () => {
    const raw = samples.sample_payloads[0]!.raw;
    const [event] = parse(raw, 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W');
    expect(event).toMatchObject({
      status: 'delivered',
      nativeType: 'email.delivered',
      occurredAt: Date.parse('2024-01-15T12:00:00.000Z'),
      dedupeKey: 'svix:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
      providerMessageId: 'ae2014de-c168-4c61-8267-70d2662a1ce1',
      recipient: 'delivered@resend.dev',
      raw: raw.trim(),
    });
  });

  const base = { created_at: '2024-01-15T12:00:00.000Z', data: { email_id: 'em_1', to: ['Someone@Example.com'] } };
  it.each([
    ['email.sent', 'sent'],
    ['email.delivered', 'delivered'],
    ['email.delivery_delayed', 'delayed'],
    ['email.complained', 'complaint'],
    ['email.bounced', 'bounced'],
    ['email.opened', 'opened'],
    ['email.clicked', 'clicked'],
    ['email.failed', 'rejected'],
    ['email.suppressed', 'dropped'],
  ])('maps %s to %s under both mappings (the contract and Resend agree)', (type, status) => {
    for (const mapping of ['contract', 'precise', undefined] as const) {
      const [event] = resend.parse(request(JSON.stringify({ type, ...base }), { 'svix-id': 'msg_1' }, at, mapping));
      expect(event, mapping).toMatchObject({ status, nativeType: type, recipient: 'someone@example.com' });
    }
  });

  it('keeps every other SDK event type as ignored, with its raw payload', () => {
    const mapped = new Set(['email.sent', 'email.delivered', 'email.delivery_delayed', 'email.complained', 'email.bounced', 'email.opened', 'email.clicked', 'email.failed', 'email.suppressed']);
    for (const type of samples.event_types_sdk.filter((type) => !mapped.has(type))) {
      const body = JSON.stringify({ type, ...base });
      expect(parse(body)[0]).toMatchObject({ status: null, nativeType: type, raw: body });
    }
  });

  it('classifies bounces by type and keeps the message', () => {
    const bounce = (type?: string) => parse({ type: 'email.bounced', ...base, data: { ...base.data, bounce: { type, subType: 'General', message: '550 no such user' } } })[0]!;
    expect(bounce('Permanent')).toMatchObject({ bounceType: 'hard', reason: '550 no such user' });
    expect(bounce('Transient').bounceType).toBe('soft');
    expect(bounce('Undetermined').bounceType).toBe('undetermined');
    expect(bounce(undefined).bounceType).toBe('hard');
  });

  it("reads a click's link, agent, address and its own time", () => {
    const click = { ipAddress: '203.0.113.9', link: 'https://example.com/a', timestamp: '2024-01-15T12:03:00.000Z', userAgent: 'Mozilla/5.0' };
    expect(parse({ type: 'email.clicked', ...base, data: { ...base.data, click } })[0]).toMatchObject({
      url: 'https://example.com/a',
      ip: '203.0.113.9',
      userAgent: 'Mozilla/5.0',
      occurredAt: Date.parse('2024-01-15T12:03:00.000Z'),
    });
  });

  it('finds our id in tags of either shape', () => {
    expect(parse({ type: 'email.sent', ...base, data: { ...base.data, tags: [{ name: 'x', value: 'y' }, { name: 'mailtrail_id', value: 'msg_a' }] } })[0]!.mailtrailId).toBe('msg_a');
    expect(parse({ type: 'email.sent', ...base, data: { ...base.data, tags: { mailtrail_id: 'msg_b' } } })[0]!.mailtrailId).toBe('msg_b');
    expect(parse({ type: 'email.sent', ...base })[0]!.mailtrailId).toBeUndefined();
  });

  it('dedupes on the body when no svix-id came with it, and falls back to the receive time without created_at', () => {
    const body = JSON.stringify({ type: 'email.sent', data: { email_id: 'em_1' } });
    const [event] = resend.parse(request(body, {}, at));
    expect(event!.dedupeKey).toMatch(/^sha256:/);
    expect(event!.occurredAt).toBe(at);
  });

  it.each(['not json', '[1,2]', '"text"', 'null'])('refuses the body %s', (body) => {
    expect(() => parse(body)).toThrow(expect.objectContaining({ code: 'MT_ERR_INVALID_BODY' }));
  });
});
