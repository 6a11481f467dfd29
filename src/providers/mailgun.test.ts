import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { StatusMapping } from '../core/status-mapping.js';
import { MAILGUN_MAX_AGE_SECONDS, mailgun } from './mailgun.js';
import type { InboundRequest } from './types.js';

interface SignatureVector {
  name: string;
  source: string;
  webhook_signing_key: string;
  timestamp: string;
  token: string;
  signature: string;
  expect_valid: boolean;
}

interface Sample {
  name: string;
  source: string;
  raw: string;
}

const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/mailgun/vectors.json', import.meta.url), 'utf8')) as {
  official_vectors: SignatureVector[];
  assembled_vectors: { name: string; source: string; webhook_signing_key: string; raw_body: string; expect_valid: boolean }[];
  sample_payloads: (Sample & { raw_is_valid_json: boolean })[];
};
const repaired = JSON.parse(readFileSync(new URL('../../test/fixtures/mailgun/repaired.json', import.meta.url), 'utf8')) as { samples: Sample[] };

const good = vectors.official_vectors[0]!;
const key = good.webhook_signing_key;
const signedAt = Number(good.timestamp) * 1000;

function request(body: string, receivedAt = signedAt, statusMapping?: StatusMapping): InboundRequest {
  return { rawBody: Buffer.from(body, 'utf8'), headers: new Map(), url: 'http://localhost/', contentType: 'application/json', receivedAt, settings: {}, statusMapping };
}

/** The event of a body under both mappings. */
function bothWays(body: string) {
  return { contract: mailgun.parse(request(body, signedAt, 'contract'))[0]!, precise: mailgun.parse(request(body, signedAt, 'precise'))[0]! };
}

/** A v3 webhook body around event-data text, the way Mailgun nests it. */
function envelope(eventData: string, signature: Record<string, unknown> = { timestamp: good.timestamp, token: good.token, signature: good.signature }): string {
  return `{"signature":${JSON.stringify(signature)},"event-data":${eventData}}`;
}

function sign(timestamp: string, token: string, signingKey = key): string {
  return createHmac('sha256', signingKey).update(timestamp + token).digest('hex');
}

function sample(name: string): string {
  const found = [...vectors.sample_payloads.filter((payload) => payload.raw_is_valid_json), ...repaired.samples].find((payload) => payload.name.includes(name));
  if (!found) throw new Error(`no sample named ${name}`);
  return found.raw;
}

const oneEvent = '{"event":"delivered","id":"e1","timestamp":1403645220.5,"recipient":"a@example.com"}';

describe('mailgun.verify with the official vectors', () => {
  for (const vector of vectors.official_vectors) {
    it(`${vector.name} → ${vector.expect_valid ? 'valid' : 'rejected'}`, () => {
      const result = mailgun.verify(request(envelope(oneEvent, { timestamp: vector.timestamp, token: vector.token, signature: vector.signature })), vector.webhook_signing_key);
      expect(result).toEqual(vector.expect_valid ? { ok: true, nonce: vector.token } : expect.objectContaining({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' }));
    });
  }
  for (const vector of vectors.assembled_vectors) {
    it(`${vector.name} → valid, with the token as nonce`, () => {
      expect(mailgun.verify(request(vector.raw_body), vector.webhook_signing_key)).toEqual({ ok: true, nonce: good.token });
    });
  }
});

describe('mailgun.verify, one broken thing at a time', () => {
  const body = envelope(oneEvent);

  it('a correctly signed body is valid and gives its token as nonce', () => {
    expect(mailgun.verify(request(body), key)).toEqual({ ok: true, nonce: good.token });
  });
  it('a tampered token fails', () => {
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: good.timestamp, token: good.token.replace('5', '6'), signature: good.signature })), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('a tampered timestamp fails', () => {
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: '1403645221', token: good.token, signature: good.signature })), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('another key fails, and the reason names the key to use', () => {
    const result = mailgun.verify(request(body), 'key-0000000000000000000000000000000');
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: expect.stringMatching(/HTTP webhook signing key/) });
  });
  it('a signature in upper-case hex is still valid', () => {
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: good.timestamp, token: good.token, signature: good.signature.toUpperCase() })), key);
    expect(result.ok).toBe(true);
  });
  it('a signature that is not hex fails without throwing', () => {
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: good.timestamp, token: good.token, signature: 'zz'.repeat(32) })), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('a signature of the wrong length fails without throwing', () => {
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: good.timestamp, token: good.token, signature: good.signature.slice(2) })), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('a timestamp that is not a number fails', () => {
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: 'yesterday', token: good.token, signature: sign('yesterday', good.token) })), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: expect.stringMatching(/timestamp/) });
  });
  it('a token longer than an index entry fails', () => {
    const token = 'x'.repeat(256);
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: good.timestamp, token, signature: sign(good.timestamp, token) })), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });

  it('a genuine signature older than the window has expired', () => {
    const result = mailgun.verify(request(body, signedAt + (MAILGUN_MAX_AGE_SECONDS + 1) * 1000), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_EXPIRED', reason: expect.stringMatching(/43201 s/) });
  });
  it('a genuine signature just inside the window is valid', () => {
    expect(mailgun.verify(request(body, signedAt + MAILGUN_MAX_AGE_SECONDS * 1000), key).ok).toBe(true);
  });
  it('a timestamp too far in the future has expired too (a wrong clock on either side)', () => {
    const result = mailgun.verify(request(body, signedAt - (MAILGUN_MAX_AGE_SECONDS + 1) * 1000), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_EXPIRED' });
  });
  it('the window is longer than Mailgun retries a webhook (8 hours)', () => {
    expect(mailgun.verify(request(body, signedAt + 8 * 3600 * 1000 + 1), key).ok).toBe(true);
  });
  it('a stale forged signature is reported as invalid, not expired', () => {
    const result = mailgun.verify(request(body, signedAt + (MAILGUN_MAX_AGE_SECONDS + 1) * 1000), 'another-key');
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });

  it('a body without a signature object is reported as missing', () => {
    expect(mailgun.verify(request(`{"event-data":${oneEvent}}`), key)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
  });
  for (const field of ['timestamp', 'token', 'signature']) {
    it(`a missing signature.${field} is reported as missing, by name`, () => {
      const signature: Record<string, unknown> = { timestamp: good.timestamp, token: good.token, signature: good.signature };
      delete signature[field];
      const result = mailgun.verify(request(envelope(oneEvent, signature)), key);
      expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING', reason: expect.stringContaining(`signature.${field}`) });
    });
  }
  it('an empty signature.token counts as missing', () => {
    const result = mailgun.verify(request(envelope(oneEvent, { timestamp: good.timestamp, token: '', signature: good.signature })), key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
  });
  it('a body that is not JSON is reported as missing a signature, without throwing', () => {
    expect(mailgun.verify(request('timestamp=1&token=2&signature=3'), key)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
    expect(mailgun.verify(request('[]'), key)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
  });

  it('the signature does not cover event-data: another body verifies with the same nonce, which the pipeline refuses', () => {
    const forged = envelope('{"event":"complained","id":"forged","timestamp":1403645220}');
    expect(mailgun.verify(request(forged), key)).toEqual({ ok: true, nonce: good.token });
  });
});

describe('mailgun.checkSigningKey', () => {
  it('accepts the mailgun-php test key', () => {
    expect(mailgun.checkSigningKey(key)).toBeNull();
  });
  it('refuses an empty key', () => {
    expect(mailgun.checkSigningKey('')).toMatch(/empty/);
  });
  it('refuses a key with spaces or a line break', () => {
    expect(mailgun.checkSigningKey(`${key}\n`)).toMatch(/printable/);
    expect(mailgun.checkSigningKey(`signing ${key}`)).toMatch(/printable/);
  });
  it('refuses the public validation key', () => {
    expect(mailgun.checkSigningKey('pubkey-5ogiflzbnjrljiky49qxsiozqef5jxp7')).toMatch(/public validation key/);
  });
});

describe('mailgun.parse', () => {
  it('reads the assembled vector: a delivered event, keeping the whole body as raw', () => {
    const body = vectors.assembled_vectors[0]!.raw_body;
    const events = mailgun.parse(request(`${body}\r\n`));
    expect(events).toEqual([
      {
        status: 'delivered',
        nativeType: 'delivered',
        occurredAt: 1529692199626,
        dedupeKey: 'hK7mQVt1QtqRiOfQXta4sw:delivered:1529692199.626182',
        providerMessageId: '20180622182958.1.48906CB188F1A454@exmple.org',
        mailtrailId: undefined,
        recipient: 'john@example.com',
        bounceType: undefined,
        reason: 'OK',
        attempts: 1,
        url: undefined,
        userAgent: undefined,
        ip: undefined,
        machine: undefined,
        machineReason: undefined,
        raw: body,
      },
    ]);
  });

  it('a retry of the same event under a new token has the same dedupe key', () => {
    const [first] = mailgun.parse(request(envelope(sample('delivered'))));
    const [retry] = mailgun.parse(request(envelope(sample('delivered'), { timestamp: '1529692500', token: 'another-token', signature: 'x' })));
    expect(retry!.dedupeKey).toBe(first!.dedupeKey);
    expect(retry!.raw).not.toBe(first!.raw);
  });

  it('failed, permanent, reason suppress-bounce → dropped under precise (Mailgun did not try to send), rejected under the contract; no bounce type', () => {
    const { contract, precise: event } = bothWays(envelope(sample('suppress-bounce')));
    expect(contract).toEqual({ ...event, status: 'rejected' });
    expect(event).toMatchObject({
      status: 'dropped',
      nativeType: 'failed',
      bounceType: undefined,
      reason: 'Not delivering to previously bounced address',
      providerMessageId: '20180622211249.1.2A6098970A380E12@example.org',
      recipient: 'slava@mailgun.com',
      occurredAt: 1529701969818,
      attempts: 1,
    });
  });

  it('failed, severity temporary → delayed under precise, rejected (soft) under the contract, with the receiving server reply', () => {
    const { contract, precise: event } = bothWays(envelope(sample('severity=temporary')));
    expect(contract).toEqual({ ...event, status: 'rejected', bounceType: 'soft' });
    expect(event).toMatchObject({
      status: 'delayed',
      bounceType: undefined,
      reason: '4.7.652 The mail server [xxx.xxx.xxx.xxx] has exceeded the maximum number of connections.',
      attempts: 1,
      providerMessageId: '20221006142837.1618e01bf42da9fa@test.com',
      recipient: 'test@test.com',
      occurredAt: 1665066523872,
    });
  });

  it('failed, permanent delayed bounce (repaired doc sample) → bounced under precise, rejected under the contract, hard under both', () => {
    const { contract, precise: event } = bothWays(envelope(sample('permanent delayed bounce')));
    expect(contract).toEqual({ ...event, status: 'rejected' });
    expect(event).toMatchObject({
      status: 'bounced',
      bounceType: 'hard',
      reason: 'smtp; 550-5.1.1 The email account that you tried to reach does not exist.',
      recipient: 'christest123@test.com',
      providerMessageId: '20221019211537.93011d31ea99c5a8@test.com',
      occurredAt: 1666214138405,
    });
  });

  it('opened (repaired doc sample): user agent and ip, and not a machine open when client-info.bot is empty', () => {
    const [event] = mailgun.parse(request(envelope(sample('event-data: opened'))));
    expect(event).toMatchObject({
      status: 'opened',
      recipient: 'recipient@example.com',
      providerMessageId: '20130821005614.19826.35976@samples.mailgun.org',
      ip: '111.111.111.111',
      userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 6_1 like Mac OS X) AppleWebKit/536.26 (KHTML, like Gecko) Mobile/10B143',
      occurredAt: 1377047343042,
      machine: undefined,
    });
  });

  it('opened by a bot (repaired doc sample): client-info.bot marks a machine open', () => {
    const [event] = mailgun.parse(request(envelope(sample('bot-detection'))));
    expect(event).toMatchObject({ status: 'opened', machine: true, machineReason: 'provider: client-info.bot=apple', recipient: 'bot@apple.com' });
    expect(event!.dedupeKey).toMatch(/^sha256:/);
  });

  it('clicked (repaired doc sample) keeps the url', () => {
    const [event] = mailgun.parse(request(envelope(sample('event-data: clicked'))));
    expect(event).toMatchObject({ status: 'clicked', url: 'http://example.com/signup', ip: '123.123.123.321', providerMessageId: '20130821085807.30688.67706@samples.mailgun.org' });
  });

  it('complained and unsubscribed (repaired doc samples)', () => {
    const [complaint] = mailgun.parse(request(envelope(sample('event-data: complained'))));
    const [unsubscribe] = mailgun.parse(request(envelope(sample('event-data: unsubscribed'))));
    expect(complaint).toMatchObject({ status: 'complaint', recipient: 'foo@example.com', providerMessageId: '20130718032413.263EE2E0926@example.com' });
    expect(unsubscribe).toMatchObject({ status: 'unsubscribed', recipient: 'recipient@example.com', ip: '23.23.23.345' });
  });

  it('the docs envelope (repaired) reads as one opened event with its own time', () => {
    const raw = sample('webhook POST body envelope');
    const [event] = mailgun.parse(request(raw));
    expect(event).toMatchObject({ status: 'opened', occurredAt: 1529006854330, dedupeKey: 'DACSsAdVSeGpLid7TN03WA:opened:1529006854.329574', raw: raw.trim() });
  });

  it('maps every native type under both mappings, and keeps unknown ones with status null', () => {
    type Mapped = [string | null, string | undefined];
    const cases: [string, string, { precise: Mapped; contract: Mapped }][] = [
      ['accepted', '', { precise: ['sent', undefined], contract: ['sent', undefined] }],
      ['rejected', '', { precise: ['rejected', undefined], contract: ['rejected', undefined] }],
      ['failed', '"severity":"permanent","reason":"generic",', { precise: ['bounced', 'hard'], contract: ['rejected', 'hard'] }],
      ['failed', '"severity":"permanent","reason":"suppress-unsubscribe",', { precise: ['dropped', undefined], contract: ['rejected', undefined] }],
      ['failed', '"severity":"permanent","reason":"suppress-complaint",', { precise: ['dropped', undefined], contract: ['rejected', undefined] }],
      ['failed', '"severity":"temporary",', { precise: ['delayed', undefined], contract: ['rejected', 'soft'] }],
      ['failed', '', { precise: ['bounced', 'undetermined'], contract: ['rejected', 'undetermined'] }],
      ['permanent_fail', '', { precise: ['bounced', 'hard'], contract: ['rejected', 'hard'] }],
      // not in the contract's table: Mailtrail's mapping under both
      ['temporary_fail', '', { precise: ['delayed', undefined], contract: ['delayed', undefined] }],
      ['temporary_fail', '"reason":"suppress-bounce",', { precise: ['dropped', undefined], contract: ['dropped', undefined] }],
      ['stored', '', { precise: [null, undefined], contract: [null, undefined] }],
      ['list_member_uploaded', '', { precise: [null, undefined], contract: [null, undefined] }],
      ['constructor', '', { precise: [null, undefined], contract: [null, undefined] }],
      ['something_new', '', { precise: [null, undefined], contract: [null, undefined] }],
    ];
    for (const [type, extra, expected] of cases) {
      const { contract, precise } = bothWays(envelope(`{${extra}"event":"${type}","id":"x","timestamp":1}`));
      expect([type, extra, { precise: [precise.status, precise.bounceType], contract: [contract.status, contract.bounceType] }, precise.nativeType, contract.nativeType]).toEqual([
        type,
        extra,
        expected,
        type,
        type,
      ]);
    }
  });

  it('reads under the contract when the integration names no mapping', () => {
    const [event] = mailgun.parse(request(envelope('{"severity":"permanent","event":"failed","id":"x","timestamp":1}')));
    expect(event).toMatchObject({ status: 'rejected', bounceType: 'hard' });
  });

  it('reads our id from user-variables and strips brackets from the message id', () => {
    const [event] = mailgun.parse(
      request(envelope('{"event":"accepted","id":"a","timestamp":1,"user-variables":{"mailtrail_id":"msg_42"},"message":{"headers":{"message-id":"<abc@mg.example.com>"}},"recipient":" Bob@Example.COM "}')),
    );
    expect(event).toMatchObject({ mailtrailId: 'msg_42', providerMessageId: 'abc@mg.example.com', recipient: 'bob@example.com' });
  });

  it('an event without event type or time is kept, at the time it arrived', () => {
    const [event] = mailgun.parse(request(envelope('{"id":"a"}'), 1_700_000_000_000));
    expect(event).toMatchObject({ status: null, nativeType: '(none)', occurredAt: 1_700_000_000_000 });
  });

  it('refuses a body it cannot read', () => {
    for (const body of ['{"event-data":', '[]', '{"signature":{}}', '{"event-data":"delivered"}', '{"event-data":[{}]}']) {
      expect(() => mailgun.parse(request(body)), body).toThrow(expect.objectContaining({ code: 'MT_ERR_INVALID_BODY' }));
    }
  });
});

describe('mailgun.normalizeMessageId', () => {
  it('strips the angle brackets of the send response and surrounding spaces', () => {
    expect(mailgun.normalizeMessageId('<20111114174239.25659.5817@samples.mailgun.org>')).toBe('20111114174239.25659.5817@samples.mailgun.org');
    expect(mailgun.normalizeMessageId('  <a@b> ')).toBe('a@b');
    expect(mailgun.normalizeMessageId('a@b')).toBe('a@b');
  });
});
