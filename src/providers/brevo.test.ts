import { describe, expect, it } from 'vitest';
import { adapterHarness, fixture as providerFixture, RECEIVED_AT } from '../../test/helpers/adapters.js';
import { brevo } from './brevo.js';
import { rawDedupeKey } from './fields.js';

interface Sample {
  name: string;
  source: string;
  raw: string;
}

const fixture = (file: string) => providerFixture('brevo', file);
const vectors = fixture('vectors.json') as { subscription_event_names_sdk: string[]; sample_payloads: Sample[] };
const samples = (fixture('samples.json') as { sample_payloads: Sample[] }).sample_payloads;
const sample = (name: string): Sample => samples.find((candidate) => candidate.name === name)!;

const { request, parseOne, invalidBody } = adapterHarness(brevo);
const MESSAGE_ID = '202405060708.12345678901@smtp-relay.mailin.fr';




describe('brevo adapter', () => {
  it('is a credentials provider with no verifier', () => {
    expect(brevo).toMatchObject({ id: 'brevo', auth: 'credentials', contentTypes: ['application/json'] });
    expect('verify' in brevo).toBe(false);
  });

  it('maps every event name the SDK subscribes to', () => {
    const statuses = vectors.subscription_event_names_sdk.map((name) => [name, parseOne(JSON.stringify({ event: name })).status]);
    expect(statuses).toEqual([
      ['sent', 'sent'],
      ['request', 'sent'],
      ['delivered', 'delivered'],
      ['hardBounce', 'bounced'],
      ['softBounce', 'bounced'],
      ['blocked', 'blocked'],
      ['spam', 'complaint'],
      ['invalid', 'rejected'],
      ['deferred', 'delayed'],
      ['click', 'clicked'],
      ['opened', 'opened'],
      ['uniqueOpened', 'opened'],
      ['unsubscribed', 'unsubscribed'],
    ]);
  });
});

describe('brevo.parse, one event per POST', () => {
  const expected: Record<string, { status: string | null; bounceType?: string; reason?: string }> = {
    request: { status: 'sent' },
    delivered: { status: 'delivered' },
    hard_bounce: { status: 'bounced', bounceType: 'hard', reason: '550 5.1.1 The email account that you tried to reach does not exist' },
    soft_bounce: { status: 'bounced', bounceType: 'soft', reason: '452 4.2.2 mailbox full' },
    blocked: { status: 'blocked', bounceType: 'block', reason: 'blocked : due to blacklist user' },
    spam: { status: 'complaint', reason: 'undesired' },
    invalid_email: { status: 'rejected' },
    deferred: { status: 'delayed', reason: '421 4.7.0 try again later' },
    click: { status: 'clicked' },
    opened: { status: 'opened' },
    unique_opened: { status: 'opened' },
    proxy_open: { status: 'opened' },
    unique_proxy_open: { status: 'opened' },
    unsubscribed: { status: 'unsubscribed' },
    error: { status: 'rejected', reason: 'sender not valid' },
  };
  const singles = samples.filter((candidate) => !candidate.raw.startsWith('['));

  it('has a sample for every posted event name', () => {
    expect(singles.map((candidate) => candidate.name)).toEqual(Object.keys(expected));
  });

  for (const { name, raw } of singles) {
    const want = expected[name]!;
    it(`${name} → ${want.status}${want.bounceType ? ` / ${want.bounceType}` : ''}`, () => {
      const event = parseOne(raw);
      const ts = (JSON.parse(raw) as { ts_event: number }).ts_event;
      expect(event).toMatchObject({
        status: want.status,
        nativeType: name,
        occurredAt: ts * 1000,
        dedupeKey: rawDedupeKey(raw),
        providerMessageId: MESSAGE_ID,
        mailtrailId: 'msg_br_1',
        recipient: 'reader@example.com',
        raw,
      });
      expect(event.bounceType).toBe(want.bounceType);
      expect(event.reason).toBe(want.reason);
    });
  }

  it('reads the link, user agent and IP of a click', () => {
    expect(parseOne(sample('click').raw)).toMatchObject({ url: 'https://example.com/welcome?utm=1', userAgent: 'Mozilla/5.0 (Windows)', ip: '203.0.113.7' });
  });

  it('flags proxy opens as machine opens, and only those', () => {
    for (const name of ['proxy_open', 'unique_proxy_open']) {
      expect(parseOne(sample(name).raw)).toMatchObject({ machine: true, machineReason: 'provider: proxy open' });
    }
    for (const name of ['opened', 'unique_opened', 'click']) {
      const event = parseOne(sample(name).raw);
      expect(event.machine).toBeUndefined();
      expect(event.machineReason).toBeUndefined();
    }
  });

  it('strips the angle brackets of the message id, and reads a bare one as is', () => {
    expect(sample('request').raw).toContain(`"<${MESSAGE_ID}>"`);
    expect(sample('delivered').raw).toContain(`"${MESSAGE_ID}"`);
    expect(parseOne(sample('request').raw).providerMessageId).toBe(MESSAGE_ID);
    expect(parseOne(sample('delivered').raw).providerMessageId).toBe(MESSAGE_ID);
  });

  it('keeps the body exactly, only trimmed', () => {
    const { raw } = sample('delivered');
    expect(parseOne(`\r\n${raw}\r\n`).raw).toBe(raw);
  });
});

describe('brevo.parse, batched arrays', () => {
  const { raw } = sample('batched (batched: true)');
  const events = brevo.parse(request(raw));

  it('keeps every event in order, each with its exact text', () => {
    expect(events.map((event) => [event.nativeType, event.status, event.providerMessageId, event.mailtrailId])).toEqual([
      ['request', 'sent', 'a1@smtp-relay.mailin.fr', 'msg_br_a'],
      ['delivered', 'delivered', 'a1@smtp-relay.mailin.fr', 'msg_br_a'],
      ['list_addition', null, undefined, undefined],
      ['hard_bounce', 'bounced', 'a3@smtp-relay.mailin.fr', undefined],
      ['click', 'clicked', 'a1@smtp-relay.mailin.fr', undefined],
    ]);
    const elements = JSON.parse(raw) as unknown[];
    events.forEach((event, index) => {
      expect(raw).toContain(event.raw);
      expect(JSON.parse(event.raw)).toEqual(elements[index]);
    });
    expect(new Set(events.map((event) => event.dedupeKey)).size).toBe(events.length);
  });

  it('takes the time from ts_event, else ts, else the CET/CEST date', () => {
    expect(events[0]!.occurredAt).toBe(1_714_980_001_000);
    expect(events[3]!.occurredAt).toBe(1_714_980_004_000);
    // 2024-05-06 09:20:00 in Paris is summer time, UTC+2.
    expect(events[4]!.occurredAt).toBe(Date.parse('2024-05-06T07:20:00Z'));
  });
});

describe('brevo.parse, details', () => {
  it('reads our id from X-Mailin-custom as JSON or as mailtrail_id:…, or from a tag', () => {
    expect(parseOne('{"event":"delivered","X-Mailin-custom":"{\\"mailtrail_id\\":\\"m1\\",\\"other\\":1}"}').mailtrailId).toBe('m1');
    expect(parseOne('{"event":"delivered","X-Mailin-custom":"order:9|mailtrail_id:m2"}').mailtrailId).toBe('m2');
    expect(parseOne('{"event":"delivered","X-Mailin-custom":"some_custom_header","tags":["welcome","mailtrail_id:m3"]}').mailtrailId).toBe('m3');
    expect(parseOne('{"event":"delivered","X-Mailin-custom":"some_custom_header","tags":["welcome"]}').mailtrailId).toBeUndefined();
  });

  it('reads a winter date as UTC+1 and uses the arrival time when there is no time at all', () => {
    expect(parseOne('{"event":"delivered","date":"2024-01-15 10:00:00"}').occurredAt).toBe(Date.parse('2024-01-15T09:00:00Z'));
    expect(parseOne('{"event":"delivered"}').occurredAt).toBe(RECEIVED_AT);
  });

  it('keeps an unknown event with status null, and an object with no event as (none)', () => {
    const body = '{"event":"contact_deleted","email":"a@example.com","ts_event":1714980003}';
    expect(parseOne(body)).toMatchObject({ status: null, nativeType: 'contact_deleted', raw: body, occurredAt: 1_714_980_003_000, bounceType: undefined });
    expect(parseOne('{"id":5}')).toMatchObject({ status: null, nativeType: '(none)' });
  });

  it('two identical events share a key; events that differ do not, though the webhook id is the same', () => {
    const a = '{"event":"opened","id":7,"email":"a@example.com","ts_event":1}';
    const b = '{"event":"opened","id":7,"email":"a@example.com","ts_event":2}';
    expect(parseOne(a).dedupeKey).toBe(parseOne(a).dedupeKey);
    expect(parseOne(a).dedupeKey).not.toBe(parseOne(b).dedupeKey);
  });
});

describe('brevo.parse, malformed bodies', () => {
  it('refuses a body that is not JSON', () => {
    expect(invalidBody('{"event":').message).toMatch(/not valid JSON/);
  });

  it('refuses a body that is neither an object nor an array', () => {
    expect(invalidBody('"delivered"').message).toMatch(/JSON object or an array/);
  });

  it('refuses an array element that is not an object, naming its index', () => {
    expect(invalidBody('[{"event":"delivered"},{"event":"click"},[]]').message).toMatch(/event 2 is not a JSON object/);
  });
});
