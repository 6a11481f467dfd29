import { describe, expect, it } from 'vitest';
import { adapterHarness, fixture as providerFixture, RECEIVED_AT } from '../../test/helpers/adapters.js';
import { sparkpost } from './sparkpost.js';

interface Sample {
  name: string;
  source: string;
  raw: string;
}

const fixture = (file: string) => providerFixture('sparkpost', file);
const vectors = fixture('vectors.json') as { source: string; sample_payloads: Sample[] };
const samples = (fixture('samples.json') as { sample_payloads: Sample[] }).sample_payloads;
const sample = (name: string): Sample => samples.find((candidate) => candidate.name === name)!;

const { request, invalidBody } = adapterHarness(sparkpost);
const TRANSMISSION_ID = '65832150921904138';



const event = (kind: string, fields: Record<string, unknown>) => JSON.stringify({ msys: { [kind]: fields } });

describe('sparkpost adapter', () => {
  it('is a credentials provider with no verifier', () => {
    expect(sparkpost).toMatchObject({ id: 'sparkpost', auth: 'credentials', contentTypes: ['application/json'] });
    expect('verify' in sparkpost).toBe(false);
  });

  it('the vectors file holds no sample payloads (SparkPost does not sign), so the samples are constructed', () => {
    expect(vectors.sample_payloads).toEqual([]);
    expect(vectors.source).toMatch(/docs\.bird\.com/);
  });
});

describe('sparkpost.parse, a batch of every event type', () => {
  const batch = sample('batch of every event type').raw;
  const events = sparkpost.parse(request(batch));
  const elements = JSON.parse(batch) as { msys: Record<string, Record<string, unknown>> }[];

  it('maps every event, in order', () => {
    expect(events.map((parsed) => [parsed.nativeType, parsed.status, parsed.bounceType])).toEqual([
      ['injection', 'sent', undefined],
      ['delay', 'delayed', undefined],
      ['delivery', 'delivered', undefined],
      ['bounce', 'bounced', 'hard'],
      ['bounce', 'blocked', 'block'],
      ['bounce', 'bounced', 'soft'],
      ['out_of_band', 'bounced', 'undetermined'],
      ['policy_rejection', 'rejected', undefined],
      ['spam_complaint', 'complaint', undefined],
      ['generation_failure', 'rejected', undefined],
      ['generation_rejection', 'rejected', undefined],
      ['initial_open', 'opened', undefined],
      ['open', 'opened', undefined],
      ['amp_open', 'opened', undefined],
      ['click', 'clicked', undefined],
      ['amp_click', 'clicked', undefined],
      ['list_unsubscribe', 'unsubscribed', undefined],
      ['link_unsubscribe', 'unsubscribed', undefined],
      ['relay_delivery', null, undefined],
      ['sms_status', null, undefined],
    ]);
  });

  it('keeps each element exactly as written in the batch', () => {
    expect(events).toHaveLength(elements.length);
    events.forEach((parsed, index) => {
      expect(batch).toContain(parsed.raw);
      expect(JSON.parse(parsed.raw)).toEqual(elements[index]);
    });
    expect(events[0]!.raw).toContain('\n'); // the pretty-printed element keeps its line breaks
  });

  it('reads ids, recipient, our id and the Unix timestamp (string or number)', () => {
    events.slice(0, 18).forEach((parsed, index) => {
      expect(parsed).toMatchObject({
        providerMessageId: TRANSMISSION_ID,
        mailtrailId: 'msg_sp_1',
        recipient: 'recipient@example.com',
        occurredAt: (1_700_000_001 + index) * 1000,
        dedupeKey: `10000000000000000${String(index + 1).padStart(2, '0')}:${parsed.nativeType}`,
      });
    });
    expect(new Set(events.map((parsed) => parsed.dedupeKey)).size).toBe(events.length);
  });

  it('reads reasons, retries, links, user agents and reader IPs', () => {
    expect(events[1]).toMatchObject({ reason: '452 4.2.2 mailbox full', attempts: 2, ip: undefined });
    expect(events[2]).toMatchObject({ attempts: 2, ip: undefined }); // ip_address of a delivery is the receiving server
    expect(events[3]).toMatchObject({ reason: '550 5.1.1 <recipient@example.com>: user unknown' });
    expect(events[4]).toMatchObject({ reason: 'MAIL REFUSED - IP (17.99.99.99) is in black list' });
    expect(events[11]).toMatchObject({ ip: '203.0.113.9', userAgent: 'Mozilla/5.0 (Macintosh)', url: undefined });
    expect(events[14]).toMatchObject({ url: 'https://example.com/offer?id=1', ip: '203.0.113.10', userAgent: 'Mozilla/5.0 (Windows)' });
    expect(events[15]).toMatchObject({ url: 'https://example.com/amp' });
    expect(events[17]).toMatchObject({ ip: '203.0.113.11', userAgent: 'Mozilla/5.0 (iPhone)' });
  });

  it('keeps relay and unknown events with status null', () => {
    expect(events[18]).toMatchObject({ status: null, recipient: 'inbound@relay.example.com', providerMessageId: undefined, occurredAt: 1_700_000_019_000 });
    expect(events[19]).toMatchObject({ status: null, nativeType: 'sms_status', dedupeKey: '1000000000000000020:sms_status' });
  });
});

describe('sparkpost.parse, details', () => {
  it('the webhook validation batch [{"msys":{}}] and an empty batch hold no events', () => {
    expect(sparkpost.parse(request(sample('webhook validation batch').raw))).toEqual([]);
    expect(sparkpost.parse(request(' [ ] '))).toEqual([]);
  });

  it('reads the ISO 8601 timestamp of the Events API', () => {
    const [parsed] = sparkpost.parse(request(sample('Events API style timestamp').raw));
    expect(parsed!.occurredAt).toBe(Date.parse('2016-04-18T14:25:07Z'));
  });

  it('uses the arrival time only when the event has no usable timestamp', () => {
    const [missing, garbage] = sparkpost.parse(request(`[${event('message_event', { type: 'delivery' })},${event('message_event', { type: 'delivery', timestamp: 'soon' })}]`));
    expect(missing!.occurredAt).toBe(RECEIVED_AT);
    expect(garbage!.occurredAt).toBe(RECEIVED_AT);
  });

  it('an event_id shared by two types gives two keys; no event_id falls back to the raw text', () => {
    const [delivery, open, anonymous] = sparkpost.parse(
      request(`[${event('message_event', { type: 'delivery', event_id: '7' })},${event('track_event', { type: 'open', event_id: '7' })},${event('track_event', { type: 'open' })}]`),
    );
    expect([delivery!.dedupeKey, open!.dedupeKey]).toEqual(['7:delivery', '7:open']);
    expect(anonymous!.dedupeKey).toMatch(/^sha256:/);
  });

  it('falls back to message_id when there is no transmission_id', () => {
    const [parsed] = sparkpost.parse(request(`[${event('message_event', { type: 'delivery', message_id: '000443ee14578172be22' })}]`));
    expect(parsed!.providerMessageId).toBe('000443ee14578172be22');
  });

  it('classifies bounce classes: numbers too, Admin as hard, unknown as undetermined', () => {
    const classes = [10, '30', '90', '25', '21', '24', '40', '60', '70', '100', '50', '54', '1', '99', undefined];
    const body = `[${classes.map((bounce_class) => event('message_event', { type: 'bounce', bounce_class })).join(',')}]`;
    expect(sparkpost.parse(request(body)).map((parsed) => `${parsed.status}/${parsed.bounceType}`)).toEqual([
      'bounced/hard',
      'bounced/hard',
      'bounced/hard',
      'bounced/hard',
      'bounced/soft',
      'bounced/soft',
      'bounced/soft',
      'bounced/soft',
      'bounced/soft',
      'bounced/soft',
      'blocked/block',
      'blocked/block',
      'bounced/undetermined',
      'bounced/undetermined',
      'bounced/undetermined',
    ]);
  });

  it('an event kind with no type is kept under its kind name', () => {
    const [parsed] = sparkpost.parse(request(`[${event('ab_test_event', { event_id: '9' })}]`));
    expect(parsed).toMatchObject({ status: null, nativeType: 'ab_test_event', dedupeKey: '9:ab_test_event' });
  });
});

describe('sparkpost.parse, malformed bodies', () => {
  it('refuses a body that is not JSON', () => {
    expect(invalidBody('[{"msys":').message).toMatch(/not valid JSON/);
  });

  it('refuses a body that is not an array', () => {
    expect(invalidBody(event('message_event', { type: 'delivery' })).message).toMatch(/JSON array/);
  });

  it('refuses an element that is not an object, naming its index', () => {
    expect(invalidBody(`[${event('message_event', { type: 'delivery' })}, 3]`).message).toMatch(/event 1 is not a JSON object/);
  });

  it('refuses an element without msys, naming its index', () => {
    expect(invalidBody('[{"msys":{}},{"message_event":{"type":"delivery"}}]').message).toMatch(/event 1 has no "msys" object/);
    expect(invalidBody('[{"msys":[]}]').message).toMatch(/event 0 has no "msys" object/);
  });

  it('refuses an msys entry that is not an object', () => {
    expect(invalidBody('[{"msys":{"message_event":"delivery"}}]').message).toMatch(/event 0: msys.message_event/);
  });
});
