import { describe, expect, it } from 'vitest';
import { adapterHarness, fixture as providerFixture, RECEIVED_AT } from '../../test/helpers/adapters.js';
import { postmark } from './postmark.js';

interface Sample {
  name: string;
  source: string;
  raw: string;
}

const fixture = (file: string) => providerFixture('postmark', file);
const vectors = fixture('vectors.json') as { sample_payloads: Sample[]; bounce_type_codes_from_sdk: Record<string, number> };
const samples = (fixture('samples.json') as { sample_payloads: Sample[] }).sample_payloads;
const sample = (name: string): Sample => samples.find((candidate) => candidate.name === name)!;

const { parseOne, invalidBody } = adapterHarness(postmark);




describe('postmark adapter', () => {
  it('is a credentials provider with no verifier', () => {
    expect(postmark).toMatchObject({ id: 'postmark', auth: 'credentials', contentTypes: ['application/json'] });
    expect('verify' in postmark).toBe(false);
  });
});

describe('postmark.parse with the official Bounce sample', () => {
  const official = vectors.sample_payloads[0]!;

  it('reads the sample without RecordType as a hard bounce, keeping the exact text', () => {
    expect(parseOne(official.raw)).toEqual({
      status: 'bounced',
      nativeType: 'Bounce',
      occurredAt: Date.parse('2014-08-01T17:28:10.273Z'),
      dedupeKey: 'bounce:42',
      providerMessageId: '883953f4-6105-42a2-a16a-77a8eac79483',
      mailtrailId: undefined,
      recipient: 'john@example.com',
      bounceType: 'hard',
      reason: 'Test bounce details',
      url: undefined,
      userAgent: undefined,
      ip: undefined,
      raw: official.raw.trim(),
    });
  });

  it('keeps the body exactly, only trimmed', () => {
    expect(parseOne(`\r\n${official.raw}\r\n`).raw).toBe(official.raw.trim());
  });
});

describe('postmark.parse, bounce TypeCodes from the SDK table', () => {
  const hard = ['HardBounce', 'BadEmailAddress', 'ManuallyDeactivated'];
  const soft = ['Transient', 'DnsError', 'SoftBounce'];
  const block = ['Blocked', 'DMARCPolicy'];
  const notFailures = ['Unsubscribe', 'Subscribe', 'AutoResponder', 'AddressChange', 'SpamNotification', 'OpenRelayTest', 'VirusNotification', 'ChallengeVerification'];
  const rejected = ['Unconfirmed', 'SMTPApiError', 'TemplateRenderingFailed'];

  for (const [name, code] of Object.entries(vectors.bounce_type_codes_from_sdk)) {
    const expected =
      name === 'SpamComplaint'
        ? { status: 'complaint', bounceType: undefined }
        : notFailures.includes(name)
          ? { status: null, bounceType: undefined }
          : rejected.includes(name)
            ? { status: 'rejected', bounceType: undefined }
            : block.includes(name)
              ? { status: 'blocked', bounceType: 'block' }
              : { status: 'bounced', bounceType: hard.includes(name) ? 'hard' : soft.includes(name) ? 'soft' : 'undetermined' };

    it(`${name} (${code}) → ${expected.status ?? 'ignored'}${expected.bounceType ? ` / ${expected.bounceType}` : ''}`, () => {
      const byCode = parseOne(JSON.stringify({ RecordType: 'Bounce', ID: code, TypeCode: code, Email: 'a@example.com', BouncedAt: '2024-01-02T03:04:05Z' }));
      const byName = parseOne(JSON.stringify({ ID: code, Type: name, Email: 'a@example.com', BouncedAt: '2024-01-02T03:04:05Z' }));
      for (const event of [byCode, byName]) {
        expect(event).toMatchObject({ nativeType: 'Bounce', ...expected, dedupeKey: `bounce:${code}`, occurredAt: Date.UTC(2024, 0, 2, 3, 4, 5) });
      }
    });
  }

  it('a bounce with neither a known Type nor a TypeCode is undetermined', () => {
    expect(parseOne('{"RecordType":"Bounce","ID":1,"Type":"SomethingNew"}')).toMatchObject({ status: 'bounced', bounceType: 'undetermined' });
  });
});

describe('postmark.parse, one sample per record type', () => {
  it('Delivery → delivered, with our id from Metadata and the recipient lower-cased', () => {
    const { raw } = sample('Delivery');
    expect(parseOne(raw)).toMatchObject({
      status: 'delivered',
      nativeType: 'Delivery',
      occurredAt: Date.parse('2024-05-06T07:08:09.123Z'),
      providerMessageId: '00000000-0000-4000-8000-000000000001',
      mailtrailId: 'msg_pm_1',
      recipient: 'ada@example.com',
      reason: 'smtp;250 2.0.0 OK 1714979289',
      bounceType: undefined,
      raw: raw.trim(),
    });
    expect(parseOne(raw).dedupeKey).toMatch(/^sha256:/);
  });

  it('Bounce SoftBounce → bounced soft, reason from Details', () => {
    expect(parseOne(sample('Bounce SoftBounce').raw)).toMatchObject({
      status: 'bounced',
      bounceType: 'soft',
      dedupeKey: 'bounce:4323372036',
      recipient: 'bob@example.com',
      reason: 'smtp;452 4.2.2 The email account that you tried to reach is over quota.',
      occurredAt: Date.parse('2024-05-06T07:10:00Z'),
    });
  });

  it('Bounce Blocked → blocked / block, with the offset of BouncedAt applied', () => {
    expect(parseOne(sample('Bounce Blocked').raw)).toMatchObject({
      status: 'blocked',
      bounceType: 'block',
      mailtrailId: 'msg_pm_3',
      occurredAt: Date.parse('2024-05-06T09:11:00Z'),
    });
  });

  it('Bounce AutoResponder (an out-of-office reply) → kept as ignored, so a delivered message stays delivered', () => {
    expect(parseOne(sample('Bounce AutoResponder').raw)).toMatchObject({ status: null, nativeType: 'Bounce', bounceType: undefined, reason: 'I am out of the office' });
  });

  it('SpamComplaint → complaint, deduplicated on its bounce id', () => {
    expect(parseOne(sample('SpamComplaint').raw)).toMatchObject({
      status: 'complaint',
      nativeType: 'SpamComplaint',
      bounceType: undefined,
      dedupeKey: 'bounce:4323372039',
      recipient: 'erin@example.com',
      mailtrailId: 'msg_pm_5',
      occurredAt: Date.parse('2024-05-06T08:00:00Z'),
    });
  });

  it('Open → opened with user agent and IP, not flagged as a machine open', () => {
    const event = parseOne(sample('Open').raw);
    expect(event.machine).toBeUndefined();
    expect(event).toMatchObject({
      status: 'opened',
      nativeType: 'Open',
      occurredAt: Date.parse('2024-05-06T09:00:00.500Z'),
      userAgent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit/537.36',
      ip: '188.2.95.4',
      url: undefined,
    });
  });

  it('Click → clicked with the original link', () => {
    expect(parseOne(sample('Click').raw)).toMatchObject({
      status: 'clicked',
      url: 'https://example.com/welcome?x=1',
      ip: '188.2.95.4',
      recipient: 'ada@example.com',
      occurredAt: Date.parse('2024-05-06T09:01:00Z'),
    });
  });

  it('SubscriptionChange by the recipient (ManualSuppression) → unsubscribed', () => {
    expect(parseOne(sample('SubscriptionChange unsubscribe').raw)).toMatchObject({
      status: 'unsubscribed',
      nativeType: 'SubscriptionChange',
      recipient: 'frank@example.com',
      mailtrailId: 'msg_pm_6',
      reason: 'ManualSuppression',
      occurredAt: Date.parse('2024-05-07T10:00:00Z'),
    });
  });

  it('SubscriptionChange after a hard bounce (the docs example) is kept without a status', () => {
    const { raw } = sample('SubscriptionChange (docs example: HardBounce suppression)');
    expect(parseOne(raw)).toMatchObject({
      status: null,
      nativeType: 'SubscriptionChange',
      providerMessageId: '883953f4-6105-42a2-a16a-77a8eac79483',
      recipient: 'bounced-address@wildbit.com',
      occurredAt: Date.parse('2020-02-01T10:53:34.416Z'),
      raw,
    });
  });

  it('SubscriptionChange reactivation (SuppressSending false) is kept without a status', () => {
    expect(parseOne(sample('SubscriptionChange reactivation').raw)).toMatchObject({ status: null, providerMessageId: undefined, recipient: 'frank@example.com' });
  });

  it('gives every sample its own dedupe key', () => {
    const keys = [...samples, ...vectors.sample_payloads].map(({ raw }) => parseOne(raw).dedupeKey);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('postmark.parse, unknown and malformed bodies', () => {
  it('keeps an unknown RecordType with status null and its raw text', () => {
    const body = '{"RecordType":"InboundMessage","MessageID":"m-1","Recipient":"a@example.com"}';
    expect(parseOne(body)).toMatchObject({ status: null, nativeType: 'InboundMessage', providerMessageId: 'm-1', raw: body, occurredAt: RECEIVED_AT });
  });

  it('keeps an object with no RecordType at all as (none)', () => {
    expect(parseOne('{"MessageID":"m-2"}')).toMatchObject({ status: null, nativeType: '(none)' });
  });

  it('uses the arrival time only when the record has no usable time', () => {
    expect(parseOne('{"RecordType":"Delivery","DeliveredAt":"yesterday"}').occurredAt).toBe(RECEIVED_AT);
  });

  it('refuses a body that is not JSON', () => {
    expect(invalidBody('{"RecordType":').message).toMatch(/not valid JSON/);
  });

  it('refuses a body that is not one JSON object', () => {
    expect(invalidBody('[{"RecordType":"Delivery"}]').message).toMatch(/JSON object/);
    expect(invalidBody('null').message).toMatch(/JSON object/);
    expect(invalidBody('"Delivery"').message).toMatch(/JSON object/);
  });
});
