import { describe, expect, it } from 'vitest';
import { adapterHarness, fixture as providerFixture, RECEIVED_AT } from '../../test/helpers/adapters.js';
import { rawDedupeKey } from './fields.js';
import { mailjet } from './mailjet.js';

interface Sample {
  name: string;
  source: string;
  raw: string;
}

const fixture = (file: string) => providerFixture('mailjet', file);
const vectors = fixture('vectors.json') as { event_types_sdk: string[]; sample_payloads: Sample[] };
const samples = (fixture('samples.json') as { sample_payloads: Sample[] }).sample_payloads;
const sample = (name: string): Sample => samples.find((candidate) => candidate.name === name)!;

const { request, parseOne, invalidBody } = adapterHarness(mailjet);




describe('mailjet adapter', () => {
  it('is a credentials provider with no verifier', () => {
    expect(mailjet).toMatchObject({ id: 'mailjet', auth: 'credentials', contentTypes: ['application/json'] });
    expect('verify' in mailjet).toBe(false);
  });

  it('maps every event type the SDK lists', () => {
    const statuses = vectors.event_types_sdk.map((type) => [type, parseOne(JSON.stringify({ event: type, time: 1 })).status]);
    expect(statuses).toEqual([
      ['open', 'opened'],
      ['click', 'clicked'],
      ['bounce', 'bounced'],
      ['spam', 'complaint'],
      ['blocked', 'blocked'],
      ['unsub', 'unsubscribed'],
      ['sent', 'delivered'],
    ]);
  });
});

describe('mailjet.parse with the documentation samples (Version 1, one event per POST)', () => {
  it('sent → delivered: the receiving server accepted it; reason is the SMTP reply', () => {
    const { raw } = sample('sent');
    expect(parseOne(raw)).toEqual({
      status: 'delivered',
      nativeType: 'sent',
      occurredAt: 1_433_333_949_000,
      dedupeKey: rawDedupeKey(raw),
      providerMessageId: '19421777835146490',
      mailtrailId: 'helloworld',
      recipient: 'api@mailjet.com',
      bounceType: undefined,
      reason: 'sent (250 2.0.0 OK 1433333948 fa5si855896wjc.199 - gsmtp)',
      url: undefined,
      userAgent: undefined,
      ip: undefined,
      raw,
    });
  });

  it('open → opened with IP and user agent', () => {
    expect(parseOne(sample('open').raw)).toMatchObject({
      status: 'opened',
      occurredAt: 1_433_103_519_000,
      providerMessageId: '19421777396190490',
      ip: '127.0.0.1',
      userAgent: 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0',
    });
  });

  it('click → clicked with the URL', () => {
    expect(parseOne(sample('click').raw)).toMatchObject({ status: 'clicked', url: 'https://mailjet.com', providerMessageId: '19421777836302490', occurredAt: 1_433_334_653_000 });
  });

  it('bounce with hard_bounce true → bounced hard, reason from the error table', () => {
    expect(parseOne(sample('bounce').raw)).toMatchObject({
      status: 'bounced',
      bounceType: 'hard',
      reason: 'recipient: user unknown',
      recipient: 'bounce@mailjet.com',
      providerMessageId: '13792286917004336',
      occurredAt: 1_430_812_195_000,
    });
  });

  it('blocked → blocked / block', () => {
    expect(parseOne(sample('blocked').raw)).toMatchObject({ status: 'blocked', bounceType: 'block', reason: 'recipient: user unknown' });
  });

  it('spam → complaint, reason the feedback loop that reported it', () => {
    expect(parseOne(sample('spam').raw)).toMatchObject({ status: 'complaint', bounceType: undefined, reason: 'JMRPP' });
  });

  it('unsub → unsubscribed', () => {
    expect(parseOne(sample('unsub').raw)).toMatchObject({ status: 'unsubscribed', providerMessageId: '20547674933128000', occurredAt: 1_433_334_941_000 });
  });

  it('keeps each body exactly, only trimmed', () => {
    for (const { raw } of samples.filter((candidate) => !candidate.raw.startsWith('['))) {
      expect(parseOne(`\n${raw}\n`).raw).toBe(raw);
    }
  });
});

describe('mailjet.parse, Version 2 (grouped) arrays', () => {
  const { raw } = sample('grouped (Version 2)');
  const events = mailjet.parse(request(raw));

  it('keeps every event in order, each with its exact text', () => {
    expect(events.map((parsed) => [parsed.status, parsed.providerMessageId, parsed.occurredAt])).toEqual([
      ['delivered', '18858825588804172', 1_424_873_938_000],
      ['delivered', '18858825588803684', 1_424_873_938_000],
      ['delivered', '18014400413866302', 1_424_873_939_000],
      ['delivered', '18858825588804459', 1_424_873_940_000],
    ]);
    const elements = JSON.parse(raw) as unknown[];
    events.forEach((parsed, index) => {
      expect(raw).toContain(parsed.raw);
      expect(JSON.parse(parsed.raw)).toEqual(elements[index]);
    });
    expect(new Set(events.map((parsed) => parsed.dedupeKey)).size).toBe(4);
  });
});

describe('mailjet.parse, ids', () => {
  it('reads a MessageID beyond 2^53 as written, not as the nearest double', () => {
    const { raw } = sample('soft bounce with our id in the event payload');
    const parsedNumber = (JSON.parse(raw) as { MessageID: number }).MessageID;
    expect(String(parsedNumber)).not.toBe('288230376457265598'); // what a plain JSON.parse would have stored
    expect(parseOne(raw)).toMatchObject({ providerMessageId: '288230376457265598', status: 'bounced', bounceType: 'soft' });
  });

  it('ignores a MessageID inside a string or a nested object, wherever it comes', () => {
    const body = '{"Payload":"{\\"MessageID\\": 1}","nested":{"MessageID":2},"event":"open","MessageID":9007199254740993 ,"time":1}';
    expect(parseOne(body).providerMessageId).toBe('9007199254740993');
  });

  it('takes mailtrail_id from the JSON Payload before CustomID, and reads the SMTP comment', () => {
    expect(parseOne(sample('soft bounce with our id in the event payload').raw)).toMatchObject({
      mailtrailId: 'msg_mj_1',
      recipient: 'soft@example.com',
      reason: 'recipient: quota exceeded; 452 4.2.2 The email account that you tried to reach is over quota',
    });
  });

  it('falls back to CustomID when the Payload holds no mailtrail_id, and to nothing without either', () => {
    expect(parseOne('{"event":"open","CustomID":"msg_custom","Payload":"free text"}').mailtrailId).toBe('msg_custom');
    expect(parseOne('{"event":"open","CustomID":"","Payload":""}').mailtrailId).toBeUndefined();
  });

  it('a bounce without hard_bounce is undetermined', () => {
    expect(parseOne('{"event":"bounce","time":1}').bounceType).toBe('undetermined');
  });
});

describe('mailjet.parse, unknown and malformed bodies', () => {
  it('keeps an unknown event type with status null, and an object with no event as (none)', () => {
    expect(parseOne('{"event":"resubscribe","time":1433334941,"email":"a@example.com"}')).toMatchObject({ status: null, nativeType: 'resubscribe', occurredAt: 1_433_334_941_000 });
    expect(parseOne('{}')).toMatchObject({ status: null, nativeType: '(none)', occurredAt: RECEIVED_AT, raw: '{}' });
  });

  it('distinguishes two clicks of the same message in the same second by their text', () => {
    const [first, second] = mailjet.parse(request('[{"event":"click","time":1,"MessageID":5,"url":"https://a.example"},{"event":"click","time":1,"MessageID":5,"url":"https://b.example"}]'));
    expect(first!.dedupeKey).not.toBe(second!.dedupeKey);
  });

  it('refuses a body that is not JSON', () => {
    expect(invalidBody('{"event":').message).toMatch(/not valid JSON/);
  });

  it('refuses a body that is neither an object nor an array', () => {
    expect(invalidBody('3').message).toMatch(/JSON object or an array/);
    expect(invalidBody('null').message).toMatch(/JSON object or an array/);
  });

  it('refuses an array element that is not an object, naming its index', () => {
    expect(invalidBody('[{"event":"open"}, "click"]').message).toMatch(/event 1 is not a JSON object/);
  });
});
