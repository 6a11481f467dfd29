import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../core/event.js';
import type { StatusMapping } from '../core/status-mapping.js';
import { amazonSes } from './amazon-ses.js';
import { mailgun } from './mailgun.js';
import { resend } from './resend.js';
import { sendgrid } from './sendgrid.js';
import type { InboundRequest, ProviderAdapter } from './types.js';

// The contract's status tables, row by row, against every real sample of the four providers they cover.

const fixture = (path: string) => JSON.parse(readFileSync(new URL(`../../test/fixtures/${path}`, import.meta.url), 'utf8'));
const tables = fixture('contract/status-tables.json') as { rows: string[] };

interface Row {
  provider: string;
  nativeTypes: string[];
  status: string;
}

/** `| Mailgun | `permanent_fail`, `failed` | rejected |` → one row naming two native events. */
const rows: Row[] = tables.rows.map((line) => {
  const [provider, events, status] = line.split('|').slice(1, -1).map((cell) => cell.trim());
  return { provider: provider!, nativeTypes: [...events!.matchAll(/`([^`]+)`/g)].map((match) => match[1]!), status: status! };
});

/** A request body, with where it comes from. */
interface Body {
  name: string;
  source: string;
  body: string;
  headers?: Record<string, string>;
}

function request(body: Body, statusMapping: StatusMapping | undefined): InboundRequest {
  return {
    rawBody: Buffer.from(body.body),
    headers: new Map(Object.entries(body.headers ?? {})),
    url: 'https://mailtrail.example/',
    contentType: 'application/json',
    receivedAt: Date.parse('2026-11-22T00:00:00Z'),
    settings: {},
    statusMapping,
  };
}

const sendgridFixture = fixture('sendgrid/vectors.json');
const sendgridBodies: Body[] = [
  ...sendgridFixture.sample_payloads.map((sample: { name: string; raw: string }) => ({ name: sample.name, source: sendgridFixture.source, body: sample.raw })),
  ...sendgridFixture.official_vectors
    .filter((vector: { expect_valid: boolean }) => vector.expect_valid)
    .map((vector: { name: string; source: string; raw_body: string }) => ({ name: vector.name, source: vector.source, body: vector.raw_body })),
];

const mailgunVectors = fixture('mailgun/vectors.json');
const mailgunSamples: { name: string; source: string; raw: string }[] = [
  ...mailgunVectors.sample_payloads.filter((sample: { raw_is_valid_json: boolean }) => sample.raw_is_valid_json),
  ...fixture('mailgun/repaired.json').samples,
  ...mailgunVectors.assembled_vectors.map((vector: { name: string; source: string; raw_body: string }) => ({ name: vector.name, source: vector.source, raw: vector.raw_body })),
];
/** Mailgun's samples are event-data or whole webhook bodies; each becomes the body Mailgun posts. */
const mailgunBody = (eventData: unknown) => JSON.stringify({ signature: { timestamp: '1', token: 't', signature: 's' }, 'event-data': eventData });
const permanentFailure = JSON.parse(mailgunSamples.find((sample) => sample.name.includes('REPAIRED: event-data: failed, permanent'))!.raw);
const mailgunBodies: Body[] = [
  ...mailgunSamples.map((sample) => {
    const json = JSON.parse(sample.raw);
    return { name: sample.name, source: sample.source, body: json['event-data'] ? sample.raw : mailgunBody(json) };
  }),
  {
    name: 'CONSTRUCTED: the permanent delayed bounce named permanent_fail (the name of the webhook kind, as a relay may send it)',
    source: 'mailgun/documentation source/api-events.rst line 506, event renamed',
    body: mailgunBody({ ...permanentFailure, event: 'permanent_fail', severity: undefined }),
  },
  {
    name: 'CONSTRUCTED: the permanent delayed bounce with no severity',
    source: 'mailgun/documentation source/api-events.rst line 506, severity removed',
    body: mailgunBody({ ...permanentFailure, severity: undefined }),
  },
];

const resendFixture = fixture('resend/resend.json');
const resendSample = resendFixture.sample_payloads[0] as { name: string; source: string; raw: string; json: { data: Record<string, unknown> } };
/** Resend publishes one example payload; the others take its shape with the fields the SDK types give each type. */
const resendData: Record<string, Record<string, unknown>> = {
  'email.bounced': { bounce: { type: 'Permanent', subType: 'General', message: '550 5.1.1 no such user' } },
  'email.clicked': { click: { ipAddress: '203.0.113.9', link: 'https://example.com/a', timestamp: '2024-01-15T12:03:00.000Z', userAgent: 'Mozilla/5.0' } },
  'email.failed': { failed: { reason: 'reached_daily_quota' } },
  'email.opened': { open: { ipAddress: '203.0.113.9', timestamp: '2024-01-15T12:02:00.000Z', userAgent: 'Mozilla/5.0' } },
  'email.suppressed': { suppressed: { message: 'on the suppression list', type: 'OnAccountSuppressionList' } },
};
const resendBodies: Body[] = [
  { name: resendSample.name, source: resendSample.source, body: resendSample.raw, headers: { 'svix-id': 'msg_sample' } },
  ...(resendFixture.event_types_sdk as string[]).map((type, index) => ({
    name: `CONSTRUCTED: ${type}`,
    source: `${resendSample.source}, with type ${type} and the fields of ${resendFixture.source}`,
    body: JSON.stringify({ ...resendSample.json, type, data: { ...resendSample.json.data, ...resendData[type] } }),
    headers: { 'svix-id': `msg_${index}` },
  })),
];

const sesFixture = fixture('amazon-ses/aws-ses-sns.json');
const sesSamples = (sesFixture.sample_payloads as { name: string; source: string; raw: string }[]).filter((sample) => sample.name.startsWith('SES '));
/** An SES event as SNS delivers it: the envelope's Message (parse reads it; the signature is verify's business). */
const snsEnvelope = (message: string, id: string) =>
  JSON.stringify({ Type: 'Notification', MessageId: id, TopicArn: 'arn:aws:sns:us-east-1:123456789012:ses-events', Message: message, Timestamp: '2026-11-21T23:59:00.000Z' });
const sesBounce = JSON.parse(sesSamples.find((sample) => sample.name.endsWith('eventType=Bounce'))!.raw);
const sesBodies: Body[] = [
  ...sesSamples.map((sample, index) => ({ name: sample.name, source: sample.source, body: snsEnvelope(sample.raw, `sns-${index}`) })),
  ...['Suppressed', 'OnAccountSuppressionList'].map((bounceSubType) => ({
    name: `CONSTRUCTED: eventType=Bounce, bounceSubType=${bounceSubType}`,
    source: 'awsdocs/amazon-ses-developer-guide event-publishing-retrieving-sns-examples.md Bounce record, bounceSubType changed',
    body: snsEnvelope(JSON.stringify({ ...sesBounce, bounce: { ...sesBounce.bounce, bounceSubType } }), `sns-${bounceSubType}`),
  })),
];

const PROVIDERS: Record<string, { adapter: ProviderAdapter; bodies: Body[] }> = {
  SendGrid: { adapter: sendgrid, bodies: sendgridBodies },
  Mailgun: { adapter: mailgun, bodies: mailgunBodies },
  Resend: { adapter: resend, bodies: resendBodies },
  'Amazon SES': { adapter: amazonSes, bodies: sesBodies },
};

/** Every event of every body, read under both mappings (and with none given), side by side. */
function readAll(provider: string): { body: Body; contract: ParsedEvent; precise: ParsedEvent; unset: ParsedEvent }[] {
  const { adapter, bodies } = PROVIDERS[provider]!;
  return bodies.flatMap((body) => {
    const contract = adapter.parse(request(body, 'contract'));
    const precise = adapter.parse(request(body, 'precise'));
    const unset = adapter.parse(request(body, undefined));
    expect(precise).toHaveLength(contract.length);
    return contract.map((event, index) => ({ body, contract: event, precise: precise[index]!, unset: unset[index]! }));
  });
}

describe('the contract status tables', () => {
  it('cover the four providers, every row a provider, native events and a status', () => {
    expect(new Set(rows.map((row) => row.provider))).toEqual(new Set(Object.keys(PROVIDERS)));
    for (const row of rows) expect(row.nativeTypes.length, JSON.stringify(row)).toBeGreaterThan(0);
    expect(rows).toHaveLength(27);
  });

  for (const row of rows) {
    for (const nativeType of row.nativeTypes) {
      it(`${row.provider} ${nativeType} → ${row.status}, for every sample, under "contract" and by default`, () => {
        const events = readAll(row.provider).filter(({ contract }) => contract.nativeType === nativeType);
        expect(events.length, `no sample of ${row.provider} ${nativeType}`).toBeGreaterThan(0);
        for (const { body, contract, unset } of events) {
          expect(contract.status, body.name).toBe(row.status);
          expect(unset.status, body.name).toBe(row.status);
        }
      });
    }
  }

  for (const provider of Object.keys(PROVIDERS)) {
    it(`${provider}: events the tables do not list map under "contract" as under "precise"`, () => {
      const listed = new Set(rows.filter((row) => row.provider === provider).flatMap((row) => row.nativeTypes));
      const unlisted = readAll(provider).filter(({ contract }) => !listed.has(contract.nativeType));
      for (const { body, contract, precise } of unlisted) expect([body.name, contract.status]).toEqual([body.name, precise.status]);
    });

    it(`${provider}: "contract" changes the status only, never what the event says (bounce type, reason, raw, ids, time)`, () => {
      for (const { body, contract, precise } of readAll(provider)) {
        const { status: _contractStatus, bounceType: contractBounce, ...contractRest } = contract;
        const { status: _preciseStatus, bounceType: preciseBounce, ...preciseRest } = precise;
        expect(contractRest, body.name).toEqual(preciseRest);
        if (preciseBounce !== undefined) expect(contractBounce, body.name).toBe(preciseBounce);
      }
    });
  }
});

describe('where the contract and "precise" differ', () => {
  const statuses = (provider: string, name: string) =>
    readAll(provider)
      .filter(({ body }) => body.name.includes(name))
      .map(({ contract, precise }) => ({ contract: [contract.status, contract.bounceType], precise: [precise.status, precise.bounceType] }));

  it('SendGrid: a blocked bounce is bounced (block) under the contract, blocked (block) under precise', () => {
    expect(statuses('SendGrid', 'bounce with type=blocked')).toEqual([{ contract: ['bounced', 'block'], precise: ['blocked', 'block'] }]);
  });

  it('Mailgun: a permanent failure is rejected under the contract and bounced under precise, hard under both', () => {
    expect(statuses('Mailgun', 'REPAIRED: event-data: failed, permanent delayed bounce')).toEqual([{ contract: ['rejected', 'hard'], precise: ['bounced', 'hard'] }]);
    expect(statuses('Mailgun', 'named permanent_fail')).toEqual([{ contract: ['rejected', 'hard'], precise: ['bounced', 'hard'] }]);
  });

  it('Mailgun: a failure with no severity is rejected or bounced, undetermined under both', () => {
    expect(statuses('Mailgun', 'with no severity')).toEqual([{ contract: ['rejected', 'undetermined'], precise: ['bounced', 'undetermined'] }]);
  });

  it('Mailgun: a temporary failure is rejected (soft) under the contract, delayed under precise', () => {
    expect(statuses('Mailgun', 'severity=temporary')).toEqual([{ contract: ['rejected', 'soft'], precise: ['delayed', undefined] }]);
  });

  it('Mailgun: a failure to send to a suppressed address is rejected or dropped, with no bounce type (nothing was sent)', () => {
    expect(statuses('Mailgun', 'suppress-bounce')).toEqual([{ contract: ['rejected', undefined], precise: ['dropped', undefined] }]);
  });

  it('Amazon SES: a bounce to a suppressed address is bounced under the contract, dropped under precise, with its bounce type', () => {
    expect(statuses('Amazon SES', 'bounceSubType=')).toEqual([
      { contract: ['bounced', 'hard'], precise: ['dropped', 'hard'] },
      { contract: ['bounced', 'hard'], precise: ['dropped', 'hard'] },
    ]);
  });

  it('Resend: the contract and precise agree on every event', () => {
    for (const { body, contract, precise } of readAll('Resend')) expect([body.name, contract.status, contract.bounceType]).toEqual([body.name, precise.status, precise.bounceType]);
  });
});
