import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mandrill } from './mandrill.js';
import type { InboundRequest } from './types.js';

interface Vector {
  name: string;
  webhook_key: string;
  webhook_url: string;
  form_params: Record<string, string>;
  signed_string: string;
  'X-Mandrill-Signature': string;
  expect_valid: boolean;
}

const vectors = JSON.parse(readFileSync(new URL('../../test/fixtures/mandrill/vectors.json', import.meta.url), 'utf8')) as {
  constructed_vectors: Vector[];
};
const batch = JSON.parse(readFileSync(new URL('../../test/fixtures/mandrill/events.json', import.meta.url), 'utf8')) as {
  events: Record<string, unknown>[];
};

const vector = vectors.constructed_vectors[0]!;
const RECEIVED_AT = 1_800_000_000_000;

function request(body: string, headers: Record<string, string> = {}, url = vector.webhook_url): InboundRequest {
  return {
    rawBody: Buffer.from(body, 'utf8'),
    headers: new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value])),
    url,
    contentType: 'application/x-www-form-urlencoded',
    receivedAt: RECEIVED_AT,
    settings: {},
  };
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

function sign(url: string, fields: Record<string, string>, key = vector.webhook_key): string {
  const signed = url + Object.keys(fields).sort().map((name) => name + fields[name]).join('');
  return createHmac('sha1', key).update(signed).digest('base64');
}

/** A signed request carrying `events` as the mandrill_events text. */
function signedRequest(eventsText: string): InboundRequest {
  const fields = { mandrill_events: eventsText };
  return request(form(fields), { 'X-Mandrill-Signature': sign(vector.webhook_url, fields) });
}

describe('mandrill.verify with the constructed vector', () => {
  const body = form(vector.form_params);
  const headers = { 'X-Mandrill-Signature': vector['X-Mandrill-Signature'] };

  it(`${vector.name} → valid`, () => {
    expect(vector.signed_string).toBe(vector.webhook_url + 'mandrill_events' + vector.form_params.mandrill_events);
    expect(mandrill.verify(request(body, headers), vector.webhook_key)).toEqual({ ok: true });
  });
  it('the signature is over the decoded values, so another encoding of the same values verifies', () => {
    const percent = `mandrill_events=${encodeURIComponent(vector.form_params.mandrill_events!).replaceAll('%3A', ':').replaceAll('%40', '@')}`;
    expect(percent).not.toBe(body);
    expect(mandrill.verify(request(percent, headers), vector.webhook_key).ok).toBe(true);
  });
  it('a tampered body fails', () => {
    const tampered = form({ mandrill_events: vector.form_params.mandrill_events!.replace('hard_bounce', 'soft_bounce') });
    expect(mandrill.verify(request(tampered, headers), vector.webhook_key)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('another key fails', () => {
    expect(mandrill.verify(request(body, headers), 'another-webhook-key')).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
  it('another URL fails, and the reason names the URL that was checked', () => {
    const url = `${vector.webhook_url}/`;
    expect(mandrill.verify(request(body, headers, url), vector.webhook_key)).toMatchObject({
      ok: false,
      code: 'MT_ERR_SIGNATURE_INVALID',
      reason: expect.stringContaining(url),
    });
    expect(mandrill.verify(request(body, headers, vector.webhook_url.replace('https:', 'http:')), vector.webhook_key).ok).toBe(false);
  });
  it('a missing header is reported as missing', () => {
    expect(mandrill.verify(request(body), vector.webhook_key)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
    expect(mandrill.verify(request(body, { 'X-Mandrill-Signature': '' }), vector.webhook_key)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_MISSING' });
  });
  it('a header that is not a base64 SHA-1 fails without throwing', () => {
    for (const signature of ['!!!', vector['X-Mandrill-Signature'].slice(1), Buffer.alloc(32).toString('base64')]) {
      expect(mandrill.verify(request(body, { 'X-Mandrill-Signature': signature }), vector.webhook_key), signature).toMatchObject({
        ok: false,
        code: 'MT_ERR_SIGNATURE_INVALID',
      });
    }
  });
  it('an extra field, unsigned, fails', () => {
    expect(mandrill.verify(request(`${body}&extra=1`, headers), vector.webhook_key).ok).toBe(false);
  });
  it('a repeated mandrill_events field fails even when one copy is correctly signed', () => {
    const forged = `mandrill_events=${encodeURIComponent('[{"event":"spam","_id":"x","ts":1}]')}&${body}`;
    expect(mandrill.verify(request(forged, headers), vector.webhook_key)).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID', reason: expect.stringMatching(/more than once/) });
  });
});

describe('mandrill.verify, signing details', () => {
  it('fields are signed sorted by name, whatever their order in the body', () => {
    const fields = { mandrill_events: '[]', b: '2', a: '1' };
    const signature = sign(vector.webhook_url, fields);
    expect(mandrill.verify(request('mandrill_events=%5B%5D&b=2&a=1', { 'X-Mandrill-Signature': signature }), vector.webhook_key).ok).toBe(true);
    const unsorted = createHmac('sha1', vector.webhook_key).update(`${vector.webhook_url}mandrill_events[]b2a1`).digest('base64');
    expect(mandrill.verify(request('mandrill_events=%5B%5D&b=2&a=1', { 'X-Mandrill-Signature': unsorted }), vector.webhook_key).ok).toBe(false);
  });
  it("Mandrill's URL check (an empty batch signed with the generic key) is valid", () => {
    const fields = { mandrill_events: '[]' };
    const result = mandrill.verify(request(form(fields), { 'X-Mandrill-Signature': sign(vector.webhook_url, fields, 'test-webhook') }), vector.webhook_key);
    expect(result).toEqual({ ok: true });
  });
  it('the generic key signs nothing but the empty batch', () => {
    const fields = { mandrill_events: vector.form_params.mandrill_events! };
    const result = mandrill.verify(request(form(fields), { 'X-Mandrill-Signature': sign(vector.webhook_url, fields, 'test-webhook') }), vector.webhook_key);
    expect(result).toMatchObject({ ok: false, code: 'MT_ERR_SIGNATURE_INVALID' });
  });
});

describe('mandrill.checkSigningKey', () => {
  it('accepts a webhook key and refuses what can never verify', () => {
    expect(mandrill.checkSigningKey('kT3p9Wq0ZbLr8xYvN2mC4a')).toBeNull();
    expect(mandrill.checkSigningKey('')).toMatch(/empty/);
    expect(mandrill.checkSigningKey('kT3p9Wq0 ZbLr8xYvN2mC4a')).toMatch(/printable/);
    expect(mandrill.checkSigningKey('test-webhook')).toMatch(/generic key/);
  });
});

describe('mandrill.parse', () => {
  it('reads the constructed vector: one hard bounce, raw kept exactly', () => {
    const events = mandrill.parse(request(form(vector.form_params)));
    const raw = vector.form_params.mandrill_events!.slice(1, -1);
    expect(events).toEqual([
      {
        status: 'bounced',
        nativeType: 'hard_bounce',
        occurredAt: 1384954004000,
        dedupeKey: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa:hard_bounce:1384954004',
        providerMessageId: 'exampleaaaaaaaaaaaaaaaaaaaaaaaaa',
        mailtrailId: undefined,
        recipient: 'example.webhook@mandrillapp.com',
        bounceType: 'hard',
        reason: undefined,
        url: undefined,
        userAgent: undefined,
        ip: undefined,
        machine: undefined,
        machineReason: undefined,
        raw,
      },
    ]);
  });

  it('maps every event of the constructed batch and keeps each raw event exactly', () => {
    const eventsText = JSON.stringify(batch.events, null, 2);
    const events = mandrill.parse(signedRequest(eventsText));
    expect(events.map((event) => [event.nativeType, event.status, event.bounceType])).toEqual([
      ['send', 'sent', undefined],
      ['deferral', 'delayed', undefined],
      ['hard_bounce', 'bounced', 'hard'],
      ['soft_bounce', 'bounced', 'soft'],
      ['open', 'opened', undefined],
      ['open', 'opened', undefined],
      ['click', 'clicked', undefined],
      ['spam', 'complaint', undefined],
      ['unsub', 'unsubscribed', undefined],
      ['reject', 'rejected', undefined],
      ['blacklist', null, undefined],
      ['whitelist', null, undefined],
      ['some_future_event', null, undefined],
    ]);
    events.forEach((event, index) => {
      expect(eventsText).toContain(event.raw);
      expect(JSON.parse(event.raw)).toEqual(batch.events[index]);
      expect(event.occurredAt).toBe((batch.events[index]!.ts as number) * 1000);
    });
    expect(new Set(events.map((event) => event.dedupeKey)).size).toBe(events.length);
  });

  it('reads ids, recipient and our id from msg', () => {
    const [send, , hard] = mandrill.parse(signedRequest(JSON.stringify(batch.events)));
    expect(send).toMatchObject({ providerMessageId: '9f1c2e7a4b5d4c3e8a6b0d1f2e3c4b01', mailtrailId: 'msg_01', recipient: 'ana.lima@example.net' });
    expect(hard).toMatchObject({ providerMessageId: '9f1c2e7a4b5d4c3e8a6b0d1f2e3c4b03', mailtrailId: 'msg_03', recipient: 'nobody@example.org' });
  });

  it('gives the reason of delivery problems only', () => {
    const events = mandrill.parse(signedRequest(JSON.stringify(batch.events)));
    expect(events.map((event) => event.reason)).toEqual([
      undefined,
      '421 4.7.0 Try again later, closing connection.',
      'bad_mailbox: smtp;550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown',
      'mailbox_full: smtp;552 5.2.2 Mailbox full',
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
  });

  it('reads opens and clicks: url, user agent, ip, and robots as machine opens', () => {
    const [, , , , open, robot, click] = mandrill.parse(signedRequest(JSON.stringify(batch.events)));
    expect(open).toMatchObject({ ip: '192.0.2.44', userAgent: expect.stringMatching(/^Mozilla\/5\.0 \(Macintosh/), machine: undefined });
    expect(robot).toMatchObject({ machine: true, machineReason: 'provider: user_agent_parsed.type=robot', ip: '203.0.113.200' });
    expect(click).toMatchObject({ url: 'https://shop.example/orders/8812?utm_source=receipt', ip: '192.0.2.44' });
  });

  it('sync events have no message, and a key from their raw text', () => {
    const events = mandrill.parse(signedRequest(JSON.stringify(batch.events)));
    for (const sync of events.slice(10, 12)) {
      expect(sync).toMatchObject({ status: null, providerMessageId: undefined, recipient: undefined, dedupeKey: expect.stringMatching(/^sha256:/) });
    }
  });

  it('two opens of one message are two events; the same open sent again is one', () => {
    const open = (ts: number) => ({ event: 'open', msg: { _id: 'm1', email: 'a@example.com' }, _id: 'm1', ts });
    const [first, second, again] = mandrill.parse(signedRequest(JSON.stringify([open(100), open(200), open(100)])));
    expect(first!.dedupeKey).not.toBe(second!.dedupeKey);
    expect(again!.dedupeKey).toBe(first!.dedupeKey);
  });

  it('two opens in the same second from two devices are two events', () => {
    const open = (ip: string, ua: string) => ({ event: 'open', msg: { _id: 'm1', email: 'a@example.com' }, _id: 'm1', ts: 100, ip, user_agent: ua });
    const [phone, laptop, phoneAgain] = mandrill.parse(signedRequest(JSON.stringify([open('198.51.100.1', 'iPhone'), open('198.51.100.2', 'Firefox'), open('198.51.100.1', 'iPhone')])));
    expect(phone!.dedupeKey).not.toBe(laptop!.dedupeKey);
    expect(phoneAgain!.dedupeKey).toBe(phone!.dedupeKey);
  });

  it('an empty batch (the URL check) is zero events', () => {
    expect(mandrill.parse(request('mandrill_events=%5B%5D'))).toEqual([]);
  });

  it('uses the time the batch arrived when an event has no usable ts', () => {
    const [missing, garbage] = mandrill.parse(signedRequest('[{"event":"send","msg":{"_id":"m"}},{"event":"send","msg":{"_id":"m"},"ts":"soon"}]'));
    expect(missing).toMatchObject({ occurredAt: RECEIVED_AT, status: 'sent', dedupeKey: 'm:send:' });
    expect(garbage).toMatchObject({ occurredAt: RECEIVED_AT, dedupeKey: 'm:send:soon' });
  });

  it('keeps an event with no type as ignored', () => {
    const [event] = mandrill.parse(signedRequest('[{"ts":1}]'));
    expect(event).toMatchObject({ status: null, nativeType: '(none)' });
  });

  it('refuses a body it cannot read', () => {
    const bodies = [
      '',
      'events=%5B%5D',
      'mandrill_events=%5B%7B',
      `mandrill_events=${encodeURIComponent('{"event":"send"}')}`,
      `mandrill_events=${encodeURIComponent('[{"event":"send"},3]')}`,
      'mandrill_events=%5B%5D&mandrill_events=%5B%5D',
    ];
    for (const body of bodies) {
      expect(() => mandrill.parse(request(body)), body).toThrow(expect.objectContaining({ code: 'MT_ERR_INVALID_BODY' }));
    }
  });
});
