import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../src/core/errors.js';
import { nestsDeeperThan } from '../src/core/json-depth.js';
import { BOUNCE_TYPES, STATUSES } from '../src/core/vocabulary.js';
import { STATUS_BY_CODE } from '../src/http/errors.js';
import { startServer, type TestServer } from './helpers/server.js';
import { basic, formFields, mailgunSignature as signMailgunFields, mandrillSigned, RESEND_SECRET, SNS_CERT_URL as CERT_URL, signMandrill as signMandrillWith, signResend, signSns, snsStringToSign, SNS as sns } from './helpers/signers.js';
import { DIALECTS } from './helpers/stores.js';

// Every provider but SendGrid (see inbound-fuzz.test.ts), over real HTTP: forged and tampered requests are refused
// with a stable 4xx and leave nothing behind; authentic requests with any body are answered 200 or a stable 4xx,
// the same way twice. Each property run posts a batch of up to BATCH requests at once.
const RUNS = 40;
const BATCH = 6;
// MAILTRAIL_FUZZ_SEED=<the seed fast-check reports> replays a failure.
// Shrinking a failure can take long; past the limit fast-check reports the smallest counterexample found so far.
const FUZZ = { numRuns: RUNS, interruptAfterTimeLimit: 30_000, ...(process.env.MAILTRAIL_FUZZ_SEED ? { seed: Number(process.env.MAILTRAIL_FUZZ_SEED) } : {}) };

const fixture = (path: string) => JSON.parse(readFileSync(new URL(`./fixtures/${path}`, import.meta.url), 'utf8'));
const MAILGUN_KEY = 'fuzz-mailgun-http-webhook-signing-key';
const MANDRILL_KEY = 'fuzz-mandrill-webhook-key';
const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-events';
const OTHER_TOPIC = 'arn:aws:sns:us-west-2:123456789012:MyTopic';
/** Every topic of every account: the signature still has to verify. */
const ANY_TOPIC = 'arn:aws:sns:*:*:*';

// ---------------------------------------------------------------------------------------------------------------
// Values

const anyChar = fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code));
/** Any UTF-16 code units, NUL and lone surrogates included (JSON.stringify writes those as \u escapes). */
const anyText = fc.string({ unit: anyChar, maxLength: 16 });
const text = fc.oneof(
  fc.string({ maxLength: 24 }),
  anyText,
  fc.constantFrom('', ' ', '\u0000', '\ud800', '\udfff', '__proto__', 'constructor', 'toString', '\u{1F4E7}', 'x'.repeat(256), '9'.repeat(400)),
);
const number = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -1, 1e21, 2 ** 53 + 2, 1_763_733_600, 1_763_733_600.123456, 95_617_584_000));
const junk = fc.oneof({ weight: 3, arbitrary: fc.oneof(text, number, fc.boolean(), fc.constant(null)) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) });
/** A field's realistic value most of the time, and anything at all otherwise. */
const field = (realistic: fc.Arbitrary<unknown>) => fc.oneof({ weight: 3, arbitrary: realistic }, { weight: 1, arbitrary: junk });
/** Nearly always the realistic value: for what one bad element would spoil, such as an item of a batch. */
const mostly = (realistic: fc.Arbitrary<unknown>) => fc.oneof({ weight: 12, arbitrary: realistic }, { weight: 1, arbitrary: junk });
/** An object with any subset of these fields. */
const object = (fields: Record<string, fc.Arbitrary<unknown>>) => fc.record(fields, { requiredKeys: [] });
const email = fc.oneof(fc.emailAddress(), fc.constantFrom('Ana@Example.com', ' bo@example.com ', 'not-an-address'));
const isoTime = fc.oneof(
  fc.date({ min: new Date(1), max: new Date(Date.UTC(2100, 0, 1)), noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom('2026-11-21T10:00:00Z', '2026-11-21 10:00:00', '2026-13-45T99:99:99Z', '9999-12-31T23:59:59Z', '1969-12-31T23:59:59Z', '2026-11-21T10:00:00+14:00'),
);
const unixSeconds = fc.oneof(fc.integer({ min: 0, max: 4_000_000_000 }), fc.double({ min: 0, max: 4e9, noNaN: true }), fc.integer({ min: 0, max: 4_000_000_000 }).map(String));
const id = fc.oneof(fc.uuid(), fc.stringMatching(/^[A-Za-z0-9._<>@-]{1,30}$/), text);
let sequence = 0;
/**
 * A number never returned before. Ids and tokens that must be new come from here, taken when the request is put
 * together, rather than from fast-check: shrinking keeps a generated value while it changes the rest of the body.
 */
const fresh = () => ++sequence;
/** A header value fetch accepts: printable ASCII. */
const headerText = fc.string({ minLength: 1, maxLength: 60 });
const base64 = (min: number, max: number) => fc.uint8Array({ minLength: min, maxLength: max }).map((bytes) => Buffer.from(bytes).toString('base64'));
const anyContentType = fc.constantFrom(
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/cloudevents+json',
  'text/plain; charset=UTF-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'text/html',
  'application/octet-stream',
);
/** The provider's own content type mostly, else another one or none. */
const contentType = (own: string) => fc.oneof({ weight: 3, arbitrary: fc.constant(own) }, { weight: 1, arbitrary: fc.option(anyContentType, { nil: null }) });

/** Whatever arrives on a socket: text, bytes, JSON of any shape, and a few edge cases. */
const randomBody: fc.Arbitrary<string | Buffer> = fc.oneof(
  fc.string({ unit: anyChar, maxLength: 200 }),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)),
  fc.json({ maxDepth: 3 }),
  fc.constantFrom('', ' ', '{}', '[]', 'null', '[{}]', '[null]', '{"__proto__":{"status":"sent"}}', '['.repeat(20_000) + ']'.repeat(20_000), '\ufeff{}'),
);

type Mutation = { op: 'flip'; at: number; xor: number } | { op: 'insert'; at: number; byte: number } | { op: 'delete'; at: number };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
);

/** The bytes with one byte flipped, inserted or deleted: never the same bytes. */
function mutate(body: string | Buffer, change: Mutation): Buffer {
  const bytes = Buffer.from(body);
  if (change.op === 'insert' || bytes.length === 0) {
    const at = change.at % (bytes.length + 1);
    return Buffer.concat([bytes.subarray(0, at), Buffer.from([change.op === 'insert' ? change.byte : 0x20]), bytes.subarray(at)]);
  }
  const at = change.at % bytes.length;
  if (change.op === 'delete') return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
  const flipped = Buffer.from(bytes);
  flipped[at] = flipped[at]! ^ change.xor;
  return flipped;
}

/** The JSON text with one member or element, at any depth, set to `value`; null when the text is not JSON or holds nothing. */
function changeField(json: string | Buffer, pick: number, value: unknown): string | null {
  let root: unknown;
  try {
    root = JSON.parse(json.toString());
  } catch {
    return null;
  }
  const slots: [object, string][] = [];
  const walk = (node: unknown) => {
    if (node === null || typeof node !== 'object') return;
    for (const [key, child] of Object.entries(node)) {
      slots.push([node, key]);
      walk(child);
    }
  };
  walk(root);
  const slot = slots[pick % Math.max(1, slots.length)];
  if (!slot) return null;
  // defineProperty, not assignment: a "__proto__" member must stay a member
  Object.defineProperty(slot[0], slot[1], { value, enumerable: true, writable: true, configurable: true });
  return JSON.stringify(root);
}

/** Payloads for a provider: its fixtures and random values in its shape, as they are, with a byte or a field changed, or anything at all. */
function payloads(shape: fc.Arbitrary<unknown>, samples: string[]): { genuine: fc.Arbitrary<string>; any: fc.Arbitrary<string | Buffer> } {
  const genuine = fc.oneof(shape.map((value) => JSON.stringify(value)), fc.constantFrom(...samples));
  const any = fc.oneof(
    randomBody,
    genuine,
    fc.tuple(genuine, mutation).map(([body, change]) => mutate(body, change)),
    fc.tuple(genuine, fc.nat(), junk).map(([body, pick, value]) => changeField(body, pick, value) ?? body),
  );
  return { genuine, any };
}

// ---------------------------------------------------------------------------------------------------------------
// Requests and answers

interface Sent {
  body: string | Buffer;
  headers: Record<string, string>;
}

interface Answer {
  status: number;
  text: string;
}

interface Target {
  id: string;
  path: string;
  inboundWebhookUrl: string;
  credentials?: { username: string; password: string };
}

function show(sent: Sent): string {
  const body = Buffer.from(sent.body);
  return JSON.stringify({ headers: sent.headers, body: body.toString('utf8').slice(0, 600), bodyBase64: body.length <= 600 ? body.toString('base64') : '(long)' });
}

async function post(server: TestServer, target: Target, sent: Sent): Promise<Answer> {
  // a hang fails the run instead of the whole file
  const response = await fetch(server.url + target.path, { method: 'POST', headers: sent.headers, body: sent.body, signal: AbortSignal.timeout(15_000) });
  return { status: response.status, text: await response.text() };
}

/** A 4xx whose body is `{error: {code, message}}`, with one of the codes expected here and the status of that code. */
/** Whether the body, a form field of it or an SNS Message in it nests deeper than ingest accepts. */
function nestsTooDeep(sent: Sent): boolean {
  const text = Buffer.from(sent.body).toString('utf8');
  const inner: string[] = [...new URLSearchParams(text).values()];
  try {
    const message = (JSON.parse(text) as { Message?: unknown }).Message;
    if (typeof message === 'string') inner.push(message);
  } catch {
    // not JSON: the body and its form fields are all there is
  }
  return [text, ...inner].some((candidate) => nestsDeeperThan(candidate));
}

function expectRefusal(answer: Answer, codes: readonly ErrorCode[], sent: Sent): ErrorCode {
  const context = `answered ${answer.status} ${answer.text.slice(0, 300)}\nto ${show(sent)}`;
  expect(answer.status, context).toBeGreaterThanOrEqual(400);
  expect(answer.status, context).toBeLessThan(500);
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(answer.text) as { error?: typeof error }).error;
  } catch {
    error = undefined;
  }
  expect(error, context).toEqual({ code: expect.stringMatching(/^MT_ERR_[A-Z_]+$/), message: expect.any(String) });
  const code = error!.code as ErrorCode;
  expect(nestsTooDeep(sent) ? [...codes, 'MT_ERR_BODY_TOO_DEEP'] : codes, context).toContain(code);
  expect(answer.status, context).toBe(STATUS_BY_CODE[code]);
  return code;
}

/** 200 with one well-formed item per mapped event (no nulls: SDKs validate the shape strictly), or an expected refusal. */
function expectAnswer(answer: Answer, codes: readonly ErrorCode[], sent: Sent): string[] {
  if (answer.status !== 200) {
    expectRefusal(answer, codes, sent);
    return [];
  }
  const items = JSON.parse(answer.text) as { id: string; event: Record<string, unknown> }[];
  expect(Array.isArray(items), show(sent)).toBe(true);
  for (const item of items) {
    expect(item, show(sent)).toEqual({ id: expect.stringMatching(/^evt_/), event: expect.objectContaining({ status: expect.any(String), date: expect.any(String), row: expect.any(String) }) });
    expect(STATUSES, show(sent)).toContain(item.event.status);
    expect(new Date(item.event.date as string).toISOString(), show(sent)).toBe(item.event.date);
    expect(Object.values(item.event), show(sent)).not.toContain(null);
  }
  return items.map((item) => item.id);
}

/** Posts the request twice: the retry must get the same answer, and for a 200 the same events (stored once). */
async function expectStableAnswer(server: TestServer, target: Target, sent: Sent, codes: readonly ErrorCode[]): Promise<string[]> {
  const first = await post(server, target, sent);
  const ids = expectAnswer(first, codes, sent);
  const retry = await post(server, target, sent);
  expect(retry.status, `first answer ${first.status} ${first.text.slice(0, 300)}, then ${retry.status} ${retry.text.slice(0, 300)}\nto ${show(sent)}`).toBe(first.status);
  if (first.status === 200) expect(retry.text, show(sent)).toBe(first.text);
  else expect(JSON.parse(retry.text).error.code, show(sent)).toBe(JSON.parse(first.text).error.code);
  return ids;
}

async function storedEvents(server: TestServer, target: Target): Promise<{ id: string; raw: unknown }[]> {
  const events: { id: string; raw: unknown }[] = [];
  let cursor: string | null = null;
  do {
    const page = await server.api(`/v1/events?integrationId=${target.id}&ignored=true&limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    expect(page.status).toBe(200);
    events.push(...page.body.data);
    cursor = page.body.next;
  } while (cursor);
  return events;
}

/** Nothing of a refused request is kept: no event (ignored ones included), no message, no notice. */
async function expectNothingStored(server: TestServer, target: Target, except: unknown[] = []): Promise<void> {
  const events = await storedEvents(server, target);
  for (const event of events) expect(except.some((genuine) => isDeepStrictEqual(genuine, event.raw)), JSON.stringify(event)).toBe(true);
  if (except.length === 0) {
    expect(events).toEqual([]);
    expect((await server.api(`/v1/messages?integrationId=${target.id}`)).body.data).toEqual([]);
  }
  expect((await server.api(`/v1/integrations/${target.id}/notices`)).body.data).toEqual([]);
}

// ---------------------------------------------------------------------------------------------------------------
// Signing, the way each provider does

/** A Mailgun v3 body around event-data text; the signature covers timestamp + token only. */
function mailgunBody(signature: Record<string, unknown>, eventData: string | Buffer, extra = ''): Buffer {
  return Buffer.concat([Buffer.from(`{"signature":${JSON.stringify(signature)},"event-data":`), Buffer.from(eventData), Buffer.from(`${extra}}`)]);
}

const mailgunSignature = (timestamp: string, token: string, key = MAILGUN_KEY) => signMailgunFields(timestamp, token, key);
const signMandrill = (url: string, body: string | Buffer, key = MANDRILL_KEY) => signMandrillWith(url, body, key);

/** The secret with one character changed to another character, so it is certainly wrong. */
const nearMiss = (secret: string) =>
  fc.tuple(fc.nat(), fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')).map(([at, char]) => {
    const index = at % secret.length;
    const replacement = secret[index] === char ? (char === 'A' ? 'B' : 'A') : char;
    return secret.slice(0, index) + replacement + secret.slice(index + 1);
  });

// ---------------------------------------------------------------------------------------------------------------
// What each provider's properties post

/** A request that must be refused, and what was genuinely posted first (Mailgun: the signature it reuses). */
interface Tamper {
  genuine?: Sent;
  sent: Sent;
}

interface ProviderFuzz {
  /** Kind 1: no valid authentication, any body. */
  forged: { target: Target; sent: fc.Arbitrary<Sent>; codes: ErrorCode[] }[];
  /** Kind 2: signed, then changed (or, for providers that do not sign, the wrong credentials); null when the change is no change. */
  tampered: { target: Target; cases: fc.Arbitrary<Tamper | null>; codes: ErrorCode[] }[];
  /** Kind 3: authentic, any body. */
  authentic: { target: Target; sent: fc.Arbitrary<Sent>; codes: ErrorCode[] }[];
}

interface World {
  server: TestServer;
  /** An API key of another environment of the same server. */
  otherApiKey: string;
}

async function createTarget(server: TestServer, body: Record<string, unknown>): Promise<Target> {
  const created = await server.api('/v1/integrations', { body });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  const { id, inboundWebhookUrl, credentials } = created.body;
  return { id, path: new URL(inboundWebhookUrl).pathname, inboundWebhookUrl, ...(credentials ? { credentials } : {}) };
}

/** Authorization headers that are not this integration's: none, garbage, another key or another integration's credentials. */
function wrongAuthorization(world: World, known: string[]): fc.Arbitrary<string | undefined> {
  return fc.option(fc.oneof(headerText, headerText.map((value) => `ApiKey ${value}`), headerText.map((value) => `Bearer ${value}`), fc.constantFrom(`ApiKey ${world.otherApiKey}`, ...known)), {
    nil: undefined,
  });
}

const withAuthorization = (headers: Record<string, string>, authorization: string | undefined) => (authorization === undefined ? headers : { ...headers, authorization });
const withContentType = (type: string | null): Record<string, string> => (type === null ? {} : { 'content-type': type });
const UNSIGNED: ErrorCode[] = ['MT_ERR_UNSIGNED_NOT_ALLOWED', 'MT_ERR_UNAUTHORIZED', 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'];

// Resend (Svix / Standard Webhooks) -------------------------------------------------------------------------------

const resendPayloads = payloads(
  object({
    type: field(fc.constantFrom(...(fixture('resend/resend.json').event_types_sdk as string[]))),
    created_at: field(isoTime),
    data: field(
      object({
        email_id: field(id),
        to: field(fc.oneof(fc.array(email, { maxLength: 3 }), email)),
        tags: field(fc.oneof(fc.array(object({ name: field(fc.constantFrom('mailtrail_id', 'category')), value: field(id) }), { maxLength: 3 }), fc.dictionary(fc.constantFrom('mailtrail_id', 'x'), id))),
        click: field(object({ timestamp: field(isoTime), link: field(text), userAgent: field(text), ipAddress: field(text) })),
        open: field(object({ userAgent: field(text), ipAddress: field(text) })),
        bounce: field(object({ type: field(fc.constantFrom('Permanent', 'Transient', 'Undetermined')), message: field(text) })),
        failed: field(object({ reason: field(text) })),
        suppressed: field(object({ message: field(text) })),
      }),
    ),
  }),
  [...fixture('resend/resend.json').sample_payloads.map((sample: { raw: string }) => sample.raw), fixture('resend/svix.json').official_vectors[0].raw_body],
);

async function resendFuzz(world: World): Promise<ProviderFuzz> {
  const { server } = world;
  const keyed = await createTarget(server, { providerId: 'resend', name: 'forged', signingKey: RESEND_SECRET });
  const keyless = await createTarget(server, { providerId: 'resend', name: 'keyless' });
  const tampered = await createTarget(server, { providerId: 'resend', name: 'tampered', signingKey: RESEND_SECRET });
  const authentic = await createTarget(server, { providerId: 'resend', name: 'authentic', signingKey: RESEND_SECRET });
  const forgedHeaders = fc.record({
    type: contentType('application/json'),
    names: fc.constantFrom('svix', 'webhook'),
    id: fc.option(headerText, { nil: undefined }),
    timestamp: fc.option(fc.oneof(fc.integer({ min: -400, max: 400 }).map((skew) => String(Math.floor(Date.now() / 1000) + skew)), headerText), { nil: undefined }),
    signature: fc.option(fc.oneof(base64(32, 32).map((mac) => `v1,${mac}`), headerText), { nil: undefined }),
  });
  return {
    forged: [keyed, keyless].map((target) => ({
      target,
      sent: fc
        .record({ body: fc.oneof(randomBody, resendPayloads.genuine), headers: forgedHeaders, authorization: wrongAuthorization(world, target === keyed ? [`ApiKey ${server.apiKey}`] : []) })
        .map(({ body, headers: { type, names, ...svix }, authorization }) => ({
          body,
          headers: withAuthorization(
            { ...withContentType(type), ...Object.fromEntries(Object.entries(svix).flatMap(([name, value]) => (value === undefined ? [] : [[`${names}-${name}`, value]]))) },
            authorization,
          ),
        })),
      codes: target === keyed ? ['MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID', 'MT_ERR_SIGNATURE_EXPIRED', 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'] : UNSIGNED,
    })),
    tampered: [
      {
        target: tampered,
        cases: fc
          .record({
            body: resendPayloads.genuine,
            change: fc.oneof(
              mutation.map((bytes) => ({ kind: 'bytes' as const, bytes })),
              fc.record({ kind: fc.constant('field' as const), pick: fc.nat(), value: junk }),
              fc.record({ kind: fc.constant('id' as const), suffix: fc.string({ minLength: 1, maxLength: 3 }).filter((suffix) => suffix.trim() !== '') }),
              fc.record({ kind: fc.constant('timestamp' as const), skew: fc.integer({ min: 1, max: 200 }) }),
              fc.record({ kind: fc.constant('stale' as const), age: fc.integer({ min: 302, max: 10_000_000 }) }),
            ),
          })
          .map(({ body, change }): Tamper | null => {
            const messageId = `msg_${fresh()}`;
            const headers = signResend(body, messageId);
            switch (change.kind) {
              case 'bytes':
                return { sent: { body: mutate(body, change.bytes), headers } };
              case 'field': {
                const changed = changeField(body, change.pick, change.value);
                return changed === null || changed === body ? null : { sent: { body: changed, headers } };
              }
              case 'id':
                return { sent: { body, headers: { ...headers, 'svix-id': messageId + change.suffix.trim() } } };
              case 'timestamp':
                return { sent: { body, headers: { ...headers, 'svix-timestamp': String(Number(headers['svix-timestamp']) - change.skew) } } };
              case 'stale':
                return { sent: { body, headers: signResend(body, messageId, Date.now() - change.age * 1000) } };
            }
          }),
        codes: ['MT_ERR_SIGNATURE_INVALID', 'MT_ERR_SIGNATURE_EXPIRED'],
      },
    ],
    authentic: [
      {
        target: authentic,
        sent: fc.record({ body: resendPayloads.any, names: fc.constantFrom('svix' as const, 'webhook' as const), decoy: fc.option(base64(32, 32), { nil: undefined }) }).map(({ body, names, decoy }) => {
          const headers = signResend(body, `msg_${fresh()}`, Date.now(), names);
          // during a secret rotation the header carries several signatures; any one that matches is enough
          if (decoy !== undefined) headers[`${names}-signature`] = `v1,${decoy} ${headers[`${names}-signature`]}`;
          return { body, headers };
        }),
        codes: ['MT_ERR_INVALID_BODY'],
      },
    ],
  };
}

// Mailgun (HMAC of timestamp + token, in the body) ----------------------------------------------------------------

const mailgunSamples = [...fixture('mailgun/vectors.json').sample_payloads.filter((sample: { raw_is_valid_json: boolean }) => sample.raw_is_valid_json), ...fixture('mailgun/repaired.json').samples].map(
  (sample: { raw: string }) => {
    const parsed = JSON.parse(sample.raw);
    return parsed['event-data'] ? JSON.stringify(parsed['event-data']) : sample.raw;
  },
);
const mailgunEventData = payloads(
  object({
    event: field(fc.constantFrom('accepted', 'delivered', 'opened', 'clicked', 'unsubscribed', 'complained', 'rejected', 'failed', 'permanent_fail', 'temporary_fail', 'stored')),
    id: field(id),
    timestamp: field(unixSeconds),
    severity: field(fc.constantFrom('permanent', 'temporary')),
    reason: field(fc.constantFrom('suppress-bounce', 'generic', 'bounce')),
    recipient: field(email),
    'delivery-status': field(object({ message: field(text), description: field(text), 'attempt-no': field(fc.oneof(fc.nat(), fc.nat().map(String))), code: field(fc.integer()) })),
    'client-info': field(object({ bot: field(fc.constantFrom('', 'apple', 'gmail', 'generic')), 'user-agent': field(text) })),
    message: field(object({ headers: field(object({ 'message-id': field(fc.oneof(id, id.map((value) => `<${value}>`))) })) })),
    'user-variables': field(fc.dictionary(fc.constantFrom('mailtrail_id', 'x'), fc.oneof(id, junk))),
    url: field(text),
    ip: field(text),
  }),
  mailgunSamples,
);
/** How to sign: up to an hour ago, the timestamp as a string or a number, the hex in either case; (`wild`) anything after the token. */
const mailgunSigning = (wild: boolean) =>
  fc.record({ rest: wild ? fc.oneof(fc.constant(''), anyText, text) : fc.constant(''), age: fc.nat(3600), fraction: fc.option(fc.nat(999_999), { nil: undefined }), asNumber: fc.boolean(), upper: fc.boolean() });

/** A signature block with a token never used before (Mailgun's are 50 hex digits), signed now. */
function signMailgun({ rest, age, fraction, asNumber, upper }: { rest: string; age: number; fraction: number | undefined; asNumber: boolean; upper: boolean }) {
  const token = `${fresh().toString(16).padStart(50, '0')}${rest}`;
  const timestamp = `${Math.floor(Date.now() / 1000) - age}${fraction === undefined ? '' : `.${fraction}`}`;
  const signature = mailgunSignature(asNumber ? String(Number(timestamp)) : timestamp, token);
  return { timestamp: asNumber ? Number(timestamp) : timestamp, token, signature: upper ? signature.toUpperCase() : signature };
}
const mailgunExtra = fc.option(fc.dictionary(fc.string({ maxLength: 10 }).filter((name) => name !== 'signature'), junk, { maxKeys: 2 }), { nil: undefined }).map((extra) =>
  extra === undefined || Object.keys(extra).length === 0 ? '' : `,${JSON.stringify(extra).slice(1, -1)}`,
);

async function mailgunFuzz(world: World): Promise<ProviderFuzz> {
  const { server } = world;
  const keyed = await createTarget(server, { providerId: 'mailgun', name: 'forged', signingKey: MAILGUN_KEY });
  const keyless = await createTarget(server, { providerId: 'mailgun', name: 'keyless' });
  const tampered = await createTarget(server, { providerId: 'mailgun', name: 'tampered', signingKey: MAILGUN_KEY });
  const authentic = await createTarget(server, { providerId: 'mailgun', name: 'authentic', signingKey: MAILGUN_KEY });
  const forgedBody = fc.oneof(
    randomBody,
    fc
      .record({
        signature: field(object({ timestamp: field(fc.integer({ min: -100_000, max: 100_000 }).map((skew) => String(Math.floor(Date.now() / 1000) + skew))), token: field(text), signature: field(fc.oneof(base64(0, 0), fc.stringMatching(/^[0-9a-f]{64}$/))) })),
        eventData: mailgunEventData.genuine,
      })
      .map(({ signature, eventData }) => mailgunBody(signature as Record<string, unknown>, eventData)),
  );
  return {
    forged: [keyed, keyless].map((target) => ({
      target,
      sent: fc
        .record({ body: forgedBody, type: contentType('application/json'), authorization: wrongAuthorization(world, target === keyed ? [`ApiKey ${server.apiKey}`] : []) })
        .map(({ body, type, authorization }) => ({ body, headers: withAuthorization(withContentType(type), authorization) })),
      codes: target === keyed ? ['MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID', 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'] : UNSIGNED,
    })),
    tampered: [
      {
        // The signature does not cover event-data: what stops a captured signature from carrying other events is
        // its token, used once. So the genuine request goes first, then the changed one with the same signature.
        target: tampered,
        cases: fc
          .record({ signing: mailgunSigning(false), eventData: mailgunEventData.genuine, change: fc.oneof(mutation.map((bytes) => ({ bytes })), fc.record({ pick: fc.nat(), value: junk })) })
          .map(({ signing, eventData, change }): Tamper | null => {
            const headers = { 'content-type': 'application/json' };
            const genuine = mailgunBody(signMailgun(signing), eventData);
            const changed = 'bytes' in change ? mutate(genuine, change.bytes) : changeField(genuine, change.pick, change.value);
            return changed === null || genuine.equals(Buffer.from(changed)) ? null : { genuine: { body: genuine, headers }, sent: { body: changed, headers } };
          }),
        codes: ['MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID', 'MT_ERR_REPLAYED'],
      },
    ],
    authentic: [
      {
        target: authentic,
        sent: fc.record({ signing: mailgunSigning(true), eventData: mailgunEventData.any, extra: mailgunExtra }).map(({ signing, eventData, extra }) => ({
          body: mailgunBody(signMailgun(signing), eventData, extra),
          headers: { 'content-type': 'application/json' },
        })),
        // a changed byte can leave the body no JSON at all, and then it carries no signature either
        codes: ['MT_ERR_INVALID_BODY', 'MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID'],
      },
    ],
  };
}

// Mandrill (HMAC-SHA1 of the URL and the sorted form fields) ------------------------------------------------------

const mandrillEvents: Record<string, unknown>[] = fixture('mandrill/events.json').events;
const mandrillPayloads = payloads(
  fc.array(
    object({
      event: field(fc.constantFrom('send', 'deferral', 'hard_bounce', 'soft_bounce', 'open', 'click', 'spam', 'unsub', 'reject', 'whitelist')),
      _id: field(id),
      ts: field(unixSeconds),
      type: field(fc.constantFrom('whitelist', 'blacklist')),
      action: field(text),
      url: field(text),
      user_agent: field(text),
      ip: field(text),
      user_agent_parsed: field(object({ type: field(fc.constantFrom('robot', 'browser')) })),
      msg: field(
        object({
          _id: field(id),
          email: field(email),
          metadata: field(fc.dictionary(fc.constantFrom('mailtrail_id', 'user'), fc.oneof(id, junk))),
          bounce_description: field(text),
          diag: field(text),
          smtp_events: field(fc.array(object({ diag: field(text) }), { maxLength: 2 })),
        }),
      ),
    }),
    { maxLength: 4 },
  ),
  [JSON.stringify(mandrillEvents), ...mandrillEvents.map((event) => JSON.stringify([event])), '[]'],
);
const mandrillForm = (events: string | Buffer, extra: Record<string, string> = {}) => new URLSearchParams({ ...extra, mandrill_events: events.toString() }).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

async function mandrillFuzz(world: World): Promise<ProviderFuzz> {
  const { server } = world;
  const keyed = await createTarget(server, { providerId: 'mandrill', name: 'forged', signingKey: MANDRILL_KEY });
  const keyless = await createTarget(server, { providerId: 'mandrill', name: 'keyless' });
  const tampered = await createTarget(server, { providerId: 'mandrill', name: 'tampered', signingKey: MANDRILL_KEY });
  const authentic = await createTarget(server, { providerId: 'mandrill', name: 'authentic', signingKey: MANDRILL_KEY });
  const url = tampered.inboundWebhookUrl;
  return {
    forged: [keyed, keyless].map((target) => ({
      target,
      sent: fc
        .record({
          body: fc.oneof(randomBody, mandrillPayloads.genuine.map((events) => mandrillForm(events))),
          type: contentType(FORM['content-type']),
          signature: fc.option(fc.oneof(base64(20, 20), headerText), { nil: undefined }),
          authorization: wrongAuthorization(world, target === keyed ? [`ApiKey ${server.apiKey}`] : []),
        })
        .map(({ body, type, signature, authorization }) => ({
          body,
          headers: withAuthorization({ ...withContentType(type), ...(signature === undefined ? {} : { 'x-mandrill-signature': signature }) }, authorization),
        })),
      codes: target === keyed ? ['MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID', 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'] : UNSIGNED,
    })),
    tampered: [
      {
        target: tampered,
        cases: fc
          .record({
            events: mandrillPayloads.genuine,
            change: fc.oneof(
              mutation.map((bytes) => ({ bytes })),
              fc.record({ pick: fc.nat(), value: junk }),
              // signed for the URL as Mandrill might have it instead: another scheme, a trailing slash, a query, another integration
              fc.record({ url: fc.constantFrom(url.replace('https:', 'http:'), `${url}/`, `${url}?`, `${url}?a=1`, keyed.inboundWebhookUrl) }),
              fc.record({ key: fc.constantFrom('test-webhook', `${MANDRILL_KEY}x`, MAILGUN_KEY) }),
            ),
          })
          .map(({ events, change }): Tamper | null => {
            const genuine = mandrillForm(events);
            const signed = (body: string | Buffer, signingUrl = url, key = MANDRILL_KEY) => ({ body, headers: { ...FORM, 'x-mandrill-signature': signMandrill(signingUrl, body, key) } });
            if ('url' in change) return { sent: signed(genuine, change.url) };
            // Mandrill's own URL check is signed with the public key "test-webhook", and holds no events
            if ('key' in change) return events.trim() === '[]' && change.key === 'test-webhook' ? null : { sent: signed(genuine, url, change.key) };
            const changed = 'bytes' in change ? mutate(genuine, change.bytes) : mandrillForm(changeField(events, change.pick, change.value) ?? events);
            // Mandrill signs names and values run together, decoded: another encoding of the same fields, or a field
            // boundary moved ("mandrill_events=[]" → "mandrill_events[]="), signs the same string
            const names = formFields(changed).map(([name]) => name);
            return new Set(names).size === names.length && mandrillSigned(changed) === mandrillSigned(genuine) ? null : { sent: { body: changed, headers: signed(genuine).headers } };
          }),
        codes: ['MT_ERR_SIGNATURE_INVALID'],
      },
    ],
    authentic: [
      {
        target: authentic,
        sent: fc
          .oneof(
            {
              weight: 4,
              arbitrary: fc
                .record({ events: mandrillPayloads.any, extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ unit: anyChar, maxLength: 8 }), { maxKeys: 2 }) })
                .map(({ events, extra }) => mandrillForm(events, extra)),
            },
            { weight: 1, arbitrary: randomBody },
          )
          .map((body) => ({ body, headers: { ...FORM, 'x-mandrill-signature': signMandrill(authentic.inboundWebhookUrl, body) } })),
        // a field named twice is refused, whoever signed it: the copy verified must be the copy read
        codes: ['MT_ERR_INVALID_BODY', 'MT_ERR_SIGNATURE_INVALID'],
      },
    ],
  };
}

// Amazon SES through SNS (RSA over the envelope's fields, certificate by URL) -------------------------------------

const sesRecipients = fc.array(object({ emailAddress: field(email), diagnosticCode: field(text), status: field(text) }), { maxLength: 3 });
const sesPayloads = payloads(
  object({
    eventType: field(fc.constantFrom('Bounce', 'Complaint', 'Delivery', 'DeliveryDelay', 'Send', 'Reject', 'Rendering Failure', 'Open', 'Click', 'Subscription')),
    notificationType: field(fc.constantFrom('Bounce', 'Complaint', 'Delivery')),
    mail: field(object({ messageId: field(id), timestamp: field(isoTime), destination: field(fc.array(email, { maxLength: 3 })), tags: field(fc.dictionary(fc.constantFrom('mailtrail_id', 'campaign'), fc.oneof(fc.array(id, { maxLength: 2 }), junk))) })),
    bounce: field(object({ bounceType: field(fc.constantFrom('Permanent', 'Transient', 'Undetermined')), bounceSubType: field(fc.constantFrom('General', 'Suppressed', 'OnAccountSuppressionList')), bouncedRecipients: field(sesRecipients), timestamp: field(isoTime) })),
    complaint: field(object({ complainedRecipients: field(sesRecipients), timestamp: field(isoTime), complaintFeedbackType: field(text), userAgent: field(text) })),
    delivery: field(object({ recipients: field(fc.array(email, { maxLength: 3 })), timestamp: field(isoTime), smtpResponse: field(text) })),
    deliveryDelay: field(object({ delayedRecipients: field(sesRecipients), timestamp: field(isoTime), delayType: field(text) })),
    open: field(object({ timestamp: field(isoTime), ipAddress: field(text), userAgent: field(text) })),
    click: field(object({ timestamp: field(isoTime), link: field(text), ipAddress: field(text), userAgent: field(text) })),
    reject: field(object({ reason: field(text) })),
    subscription: field(object({ timestamp: field(isoTime), source: field(text), newTopicPreferences: field(object({ unsubscribeAll: field(fc.boolean()), topicSubscriptionStatus: field(fc.array(object({ subscriptionStatus: field(fc.constantFrom('OptIn', 'OptOut')) }), { maxLength: 2 })) })) })),
  }),
  sns.sample_payloads.filter((sample: { json: Record<string, unknown> }) => sample.json.eventType ?? sample.json.notificationType).map((sample: { raw: string }) => sample.raw),
);
const SNS_HEADERS = { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' };
const subscribeUrl = (topic: unknown, token: string) => `https://sns.us-east-1.amazonaws.com/?${new URLSearchParams({ Action: 'ConfirmSubscription', TopicArn: String(topic), Token: token })}`;

/** An SNS envelope with any of its fields, before signing. */
function snsEnvelope(topics: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .record({
      Type: fc.constantFrom('Notification', 'Notification', 'Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation'),
      MessageId: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: junk }),
      TopicArn: topics,
      Subject: fc.option(text, { nil: undefined }),
      Timestamp: field(isoTime),
      Message: fc.oneof(sesPayloads.any.map((message) => message.toString()), junk),
      extra: fc.dictionary(fc.constantFrom('UnsubscribeURL', 'MessageAttributes', 'Other'), junk, { maxKeys: 2 }),
    })
    .map(({ Type, MessageId, Subject, extra, ...fields }) => {
      const Token = `token-${fresh()}`;
      return {
        ...extra,
        Type,
        MessageId: MessageId === undefined ? `sns-${fresh()}` : MessageId,
        ...fields,
        ...(Subject === undefined || Type !== 'Notification' ? {} : { Subject }),
        ...(Type === 'Notification' ? {} : { Token, SubscribeURL: subscribeUrl(fields.TopicArn, Token) }),
      };
    });
}

async function sesFuzz(world: World): Promise<ProviderFuzz> {
  const { server } = world;
  const restricted = await createTarget(server, { providerId: 'amazon-ses', name: 'one topic', settings: { topicArns: [TOPIC] } });
  const open = await createTarget(server, { providerId: 'amazon-ses', name: 'any topic', settings: { topicArns: [ANY_TOPIC] } });
  const tamperedRestricted = await createTarget(server, { providerId: 'amazon-ses', name: 'tampered, one topic', settings: { topicArns: [TOPIC] } });
  const tamperedOpen = await createTarget(server, { providerId: 'amazon-ses', name: 'tampered, any topic', settings: { topicArns: [ANY_TOPIC] } });
  const authenticRestricted = await createTarget(server, { providerId: 'amazon-ses', name: 'authentic, one topic', settings: { topicArns: [TOPIC] } });
  const authenticOpen = await createTarget(server, { providerId: 'amazon-ses', name: 'authentic, any topic', settings: { topicArns: [ANY_TOPIC] } });
  const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // listed topics, topics of any shape the wildcard takes (NUL included), and anything else
  const topics = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(TOPIC, OTHER_TOPIC) },
    { weight: 2, arbitrary: fc.tuple(text, text, text).map(([region, account, name]) => `arn:aws:sns:${region}:${account}:${name}`) },
    { weight: 1, arbitrary: junk },
  );
  // certificate URLs that are either in the cert dir or refused before any download (a download is the test below)
  const certUrls = fc.constantFrom(
    CERT_URL,
    sns.signing_certificate.url,
    CERT_URL.replace('https:', 'http:'),
    CERT_URL.replace('sns.us-east-1.amazonaws.com', 'sns.us-east-1.amazonaws.com.evil.example'),
    CERT_URL.replace('https://', 'https://user@'),
    'https://evil.example/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem',
  );
  const forgedBody = fc.oneof(
    randomBody,
    fc
      .record({ envelope: snsEnvelope(topics), version: field(fc.constantFrom('1', '2')), certUrl: field(certUrls), signature: field(fc.oneof(base64(256, 256), base64(0, 40))) })
      .map(({ envelope, version, certUrl, signature }) => JSON.stringify({ ...envelope, SignatureVersion: version, SigningCertURL: certUrl, Signature: signature })),
  );
  return {
    forged: [restricted, open].map((target) => ({
      target,
      sent: fc
        .record({
          body: forgedBody,
          type: contentType(SNS_HEADERS['content-type']),
          messageType: fc.option(fc.constantFrom('Notification', 'SubscriptionConfirmation', 'UnsubscribeConfirmation', 'x'), { nil: undefined }),
          raw: fc.boolean(),
          authorization: wrongAuthorization(world, [`ApiKey ${server.apiKey}`]),
        })
        .map(({ body, type, messageType, raw, authorization }) => ({
          body,
          headers: withAuthorization({ ...withContentType(type), ...(messageType ? { 'x-amz-sns-message-type': messageType } : {}), ...(raw ? { 'x-amz-sns-rawdelivery': 'true' } : {}) }, authorization),
        })),
      codes: ['MT_ERR_INVALID_BODY', 'MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID', 'MT_ERR_FORBIDDEN', 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'],
    })),
    tampered: [tamperedRestricted, tamperedOpen].map((target) => ({
      target,
      cases: fc
        .record({
          envelope: snsEnvelope(target === tamperedRestricted ? fc.constant(TOPIC) : topics),
          version: fc.constantFrom('1' as const, '2' as const),
          change: fc.oneof(
            mutation.map((bytes) => ({ bytes })),
            fc.record({ pick: fc.nat(), value: junk }),
            fc.constantFrom({ transplant: 'other key' as const }, { transplant: 'other version' as const }, { transplant: 'other message' as const }),
          ),
        })
        .map(({ envelope, version, change }): Tamper | null => {
          const signed = signSns(envelope, version);
          const genuine = JSON.stringify(signed);
          if ('transplant' in change) {
            const body =
              change.transplant === 'other key'
                ? { ...signSns(envelope, version, otherKey) }
                : change.transplant === 'other version'
                  ? { ...signed, SignatureVersion: version === '1' ? '2' : '1' }
                  : { ...signed, Signature: signSns({ ...envelope, MessageId: `${String(envelope.MessageId)}-2` }, version).Signature };
            return { sent: { body: JSON.stringify(body), headers: SNS_HEADERS } };
          }
          const changed = 'bytes' in change ? mutate(genuine, change.bytes) : changeField(genuine, change.pick, change.value);
          if (changed === null) return null;
          let parsed: Record<string, unknown> | undefined;
          try {
            parsed = JSON.parse(changed.toString());
          } catch {
            parsed = undefined;
          }
          if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
            // Still authentic when every signed field and the signature survived (whitespace, unsigned fields, a
            // base64 character the decoder skips). A changed certificate URL is left to the test below.
            if (parsed.SigningCertURL !== signed.SigningCertURL) return null;
            const sameSignature = typeof parsed.Signature === 'string' && Buffer.from(parsed.Signature, 'base64').equals(Buffer.from(signed.Signature as string, 'base64'));
            if (sameSignature && parsed.SignatureVersion === signed.SignatureVersion && snsStringToSign(parsed) === snsStringToSign(signed)) return null;
          }
          return { sent: { body: changed, headers: SNS_HEADERS } };
        }),
      // before the signature is read: a body that is no JSON object is 400, and a topic the integration does not list 403
      codes: ['MT_ERR_INVALID_BODY', 'MT_ERR_SIGNATURE_MISSING', 'MT_ERR_SIGNATURE_INVALID', 'MT_ERR_FORBIDDEN'],
    })),
    authentic: [authenticRestricted, authenticOpen].map((target) => ({
      target,
      sent: fc.record({ envelope: snsEnvelope(target === authenticRestricted ? fc.oneof({ weight: 3, arbitrary: fc.constant(TOPIC) }, { weight: 1, arbitrary: topics }) : topics), version: fc.constantFrom('1' as const, '2' as const) }).map(({ envelope, version }) => ({
        body: JSON.stringify(signSns(envelope, version)),
        headers: { ...SNS_HEADERS, 'x-amz-sns-message-type': String(envelope.Type) },
      })),
      codes: ['MT_ERR_FORBIDDEN'],
    })),
  };
}

// Providers that do not sign: generated credentials ----------------------------------------------------------------

function credentialFuzz(providerId: string, shape: fc.Arbitrary<unknown>, samples: string[]): (world: World) => Promise<ProviderFuzz> {
  const bodies = payloads(shape, samples);
  const json = { 'content-type': 'application/json' };
  return async (world) => {
    const { server } = world;
    const refused = await createTarget(server, { providerId, name: 'refused' });
    const authentic = await createTarget(server, { providerId, name: 'authentic' });
    const { username, password } = refused.credentials!;
    const theirs = authentic.credentials!;
    expect(username).toBe('mailtrail');
    return {
      forged: [
        {
          target: refused,
          sent: fc
            .record({
              body: fc.oneof(randomBody, bodies.genuine),
              type: contentType('application/json'),
              authorization: fc.oneof(
                wrongAuthorization(world, [`ApiKey ${server.apiKey}`, `Bearer ${server.apiKey}`, basic(theirs.username, theirs.password), `Bearer ${theirs.password}`]),
                fc.tuple(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 })).map(([user, secret]) => basic(user, secret)),
              ),
            })
            .map(({ body, type, authorization }) => ({ body, headers: withAuthorization(withContentType(type), authorization) })),
          codes: ['MT_ERR_CREDENTIALS_INVALID', 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'],
        },
      ],
      // nothing to tamper with in a body no one signs: the right body with nearly the right credentials instead
      tampered: [
        {
          target: refused,
          cases: fc
            .record({
              body: bodies.any,
              authorization: fc.oneof(
                nearMiss(password).map((wrong) => basic(username, wrong)),
                nearMiss(password).map((wrong) => `Bearer ${wrong}`),
                fc.string({ maxLength: 12 }).filter((user) => user !== username).map((user) => basic(user, password)),
                fc.constantFrom(
                  `Basic ${Buffer.from(password).toString('base64')}`,
                  `Basic ${Buffer.from(`${password}:${username}`).toString('base64')}`,
                  basic(username, ''),
                  basic(username, `${password} `),
                  `Digest ${Buffer.from(`${username}:${password}`).toString('base64')}`,
                  `ApiKey ${password}`,
                  `Basic`,
                  basic(theirs.username, theirs.password),
                  `ApiKey ${server.apiKey}`,
                ),
              ),
            })
            .map(({ body, authorization }) => ({ sent: { body, headers: { ...json, authorization } } })),
          codes: ['MT_ERR_CREDENTIALS_INVALID'],
        },
      ],
      authentic: [
        {
          target: authentic,
          sent: fc
            .record({ body: bodies.any, scheme: fc.constantFrom('basic', 'Basic', 'BASIC', 'bearer', 'Bearer'), charset: fc.boolean() })
            .map(({ body, scheme, charset }) => ({
              body,
              headers: {
                'content-type': charset ? 'application/json; charset=utf-8' : 'application/json',
                authorization: scheme.toLowerCase() === 'basic' ? `${scheme} ${Buffer.from(`${theirs.username}:${theirs.password}`).toString('base64')}` : `${scheme}  ${theirs.password}`,
              },
            })),
          codes: ['MT_ERR_INVALID_BODY'],
        },
      ],
    };
  };
}

const samplesOf = (path: string) => (fixture(path).sample_payloads as { raw: string }[]).map((sample) => sample.raw);
const oneOrMany = (item: fc.Arbitrary<unknown>) => fc.oneof(item, fc.array(item, { maxLength: 4 }));

const postmarkFuzz = credentialFuzz(
  'postmark',
  object({
    RecordType: field(fc.constantFrom('Delivery', 'Bounce', 'SpamComplaint', 'Open', 'Click', 'SubscriptionChange', '')),
    MessageID: field(id),
    ID: field(fc.oneof(fc.nat(), id)),
    Recipient: field(email),
    Email: field(email),
    DeliveredAt: field(isoTime),
    BouncedAt: field(isoTime),
    ReceivedAt: field(isoTime),
    ChangedAt: field(isoTime),
    Type: field(fc.constantFrom('HardBounce', 'SoftBounce', 'Blocked', 'SpamComplaint', 'DnsError', 'toString', '__proto__')),
    TypeCode: field(fc.constantFrom(1, 2, 256, 4096, 100000, 100001, 100006, 100009)),
    Details: field(text),
    Description: field(text),
    Metadata: field(fc.dictionary(fc.constantFrom('mailtrail_id', 'x'), junk)),
    SuppressSending: field(fc.boolean()),
    SuppressionReason: field(fc.constantFrom('HardBounce', 'SpamComplaint', 'ManualSuppression')),
    OriginalLink: field(text),
    UserAgent: field(text),
    Geo: field(object({ IP: field(text) })),
  }),
  [...samplesOf('postmark/samples.json'), ...samplesOf('postmark/vectors.json')],
);

const sparkpostFuzz = credentialFuzz(
  'sparkpost',
  fc.array(
    mostly(
      object({
        msys: mostly(
          fc.dictionary(
            fc.constantFrom('message_event', 'track_event', 'gen_event', 'unsubscribe_event', 'relay_event', 'constructor'),
            mostly(
              object({
                type: field(fc.constantFrom('injection', 'delivery', 'delay', 'bounce', 'out_of_band', 'policy_rejection', 'spam_complaint', 'open', 'click', 'amp_open', 'list_unsubscribe', 'toString')),
                event_id: field(id),
                timestamp: field(fc.oneof(unixSeconds, isoTime)),
                transmission_id: field(id),
                message_id: field(id),
                rcpt_to: field(email),
                raw_rcpt_to: field(email),
                bounce_class: field(fc.oneof(fc.constantFrom('1', '10', '20', '50', '90', '100', 'hasOwnProperty'), fc.nat(110))),
                raw_reason: field(text),
                reason: field(text),
                num_retries: field(fc.oneof(fc.nat(), fc.nat().map(String))),
                target_link_url: field(text),
                user_agent: field(text),
                ip_address: field(text),
                rcpt_meta: field(fc.dictionary(fc.constantFrom('mailtrail_id', 'x'), junk)),
              }),
            ),
            { maxKeys: 2 },
          ),
        ),
      }),
    ),
    { maxLength: 4 },
  ),
  samplesOf('sparkpost/samples.json'),
);

const mailjetFuzz = credentialFuzz(
  'mailjet',
  oneOrMany(
    object({
      event: field(fc.constantFrom('sent', 'open', 'click', 'bounce', 'spam', 'blocked', 'unsub', 'constructor')),
      time: field(unixSeconds),
      MessageID: field(fc.oneof(fc.nat(), fc.constantFrom(19421777835146490, Number('288230376457265598'), 1e21, -1, 0.5))),
      mj_message_id: field(id),
      email: field(email),
      Payload: field(fc.oneof(fc.dictionary(fc.constantFrom('mailtrail_id', 'x'), junk).map((payload) => JSON.stringify(payload)), fc.dictionary(fc.constantFrom('mailtrail_id'), junk))),
      CustomID: field(id),
      hard_bounce: field(fc.boolean()),
      error: field(text),
      error_related_to: field(text),
      comment: field(text),
      smtp_reply: field(text),
      source: field(text),
      url: field(text),
      agent: field(text),
      ip: field(text),
    }),
  ),
  samplesOf('mailjet/samples.json'),
);

const brevoFuzz = credentialFuzz(
  'brevo',
  oneOrMany(
    object({
      event: field(fc.constantFrom('request', 'delivered', 'hard_bounce', 'softBounce', 'blocked', 'spam', 'invalid_email', 'deferred', 'click', 'opened', 'unique_proxy_open', 'unsubscribed', 'error', 'toString')),
      email: field(email),
      id: field(fc.nat()),
      'message-id': field(fc.oneof(id, id.map((value) => `<${value}>`))),
      messageId: field(id),
      ts_event: field(unixSeconds),
      ts: field(unixSeconds),
      date: field(fc.oneof(isoTime, fc.constantFrom('2024-05-03 12:34:56', '2024-03-31 02:30:00', '2024-10-27 02:30:00'))),
      'X-Mailin-custom': field(fc.oneof(fc.constant('mailtrail_id:msg_1'), fc.dictionary(fc.constantFrom('mailtrail_id', 'x'), junk).map((custom) => JSON.stringify(custom)))),
      tags: field(fc.array(fc.oneof(fc.constant('mailtrail_id:msg_2'), text), { maxLength: 3 })),
      tag: field(text),
      reason: field(text),
      link: field(text),
      user_agent: field(text),
      ip: field(text),
    }),
  ),
  samplesOf('brevo/samples.json'),
);

// Generic: normalized events with the API key ---------------------------------------------------------------------

const genericEvent = object({
  status: fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...STATUSES) }, { weight: 1, arbitrary: junk }),
  date: fc.oneof({ weight: 5, arbitrary: isoTime }, { weight: 1, arbitrary: junk }),
  externalId: field(id),
  attempts: field(fc.nat()),
  response: field(text),
  bounceType: field(fc.constantFrom(...BOUNCE_TYPES)),
  recipient: field(email),
  mailtrailId: field(id),
  url: field(text),
  userAgent: field(text),
  ip: field(text),
  machine: field(fc.boolean()),
});
const genericPayloads = payloads(oneOrMany(fc.oneof(object({ id: field(id), event: mostly(genericEvent), recipient: field(email), bounceType: field(fc.constantFrom(...BOUNCE_TYPES)) }), genericEvent)), [
  '[{"id":"mta-1","event":{"status":"delivered","date":"2026-11-21T12:00:00Z","externalId":"mta-msg-1","response":"250 ok"},"recipient":"bo@example.com"}]',
  '{"status":"bounced","date":"2026-11-21T12:00:00Z","bounceType":"hard","externalId":"mta-msg-2"}',
]);

async function genericFuzz(world: World): Promise<ProviderFuzz> {
  const { server } = world;
  const refused = await createTarget(server, { providerId: 'generic', name: 'refused' });
  const authentic = await createTarget(server, { providerId: 'generic', name: 'authentic' });
  return {
    forged: [
      {
        target: refused,
        sent: fc
          .record({
            body: fc.oneof(randomBody, genericPayloads.genuine),
            type: contentType('application/json'),
            authorization: wrongAuthorization(world, [`Bearer ${world.otherApiKey}`, `Basic ${Buffer.from(server.apiKey).toString('base64')}`, `ApiKey ${server.apiKey} ${server.apiKey}`, server.apiKey]),
          })
          .map(({ body, type, authorization }) => ({ body, headers: withAuthorization(withContentType(type), authorization) })),
        codes: ['MT_ERR_UNAUTHORIZED', 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'],
      },
    ],
    tampered: [
      {
        target: refused,
        cases: fc
          .record({ body: genericPayloads.any, authorization: fc.oneof(nearMiss(server.apiKey).map((key) => `ApiKey ${key}`), fc.constantFrom(`ApiKey ${server.apiKey.slice(0, -1)}`, `ApiKey ${world.otherApiKey}`)) })
          .map(({ body, authorization }) => ({ sent: { body, headers: { 'content-type': 'application/json', authorization } } })),
        codes: ['MT_ERR_UNAUTHORIZED'],
      },
    ],
    authentic: [
      {
        target: authentic,
        sent: fc.record({ body: genericPayloads.any, scheme: fc.constantFrom('ApiKey', 'Bearer', 'apikey') }).map(({ body, scheme }) => ({
          body,
          headers: { 'content-type': 'application/json', authorization: `${scheme} ${server.apiKey}` },
        })),
        codes: ['MT_ERR_INVALID_BODY'],
      },
    ],
  };
}

const PROVIDERS: [string, (world: World) => Promise<ProviderFuzz>][] = [
  ['mailgun', mailgunFuzz],
  ['resend', resendFuzz],
  ['amazon-ses', sesFuzz],
  ['postmark', postmarkFuzz],
  ['sparkpost', sparkpostFuzz],
  ['mailjet', mailjetFuzz],
  ['brevo', brevoFuzz],
  ['mandrill', mandrillFuzz],
  ['generic', genericFuzz],
];

// ---------------------------------------------------------------------------------------------------------------

/** One arbitrary over several targets' cases, tagged with the index of the target. */
const tagged = <T>(specs: { cases: fc.Arbitrary<T> }[]) => fc.oneof(...specs.map((spec, index) => spec.cases.map((value) => ({ index, value }))));

for (const dialect of DIALECTS) {
  describe(`${dialect}: every provider's inbound URL under random, forged and tampered requests`, () => {
    let world: World;
    let certDir: string;
    /** Every call the server made to a provider (SNS certificates and subscription confirmations). */
    const outbound: string[] = [];

    beforeAll(async () => {
      certDir = mkdtempSync(join(tmpdir(), 'mailtrail-fuzz-certs-'));
      writeFileSync(join(certDir, new URL(CERT_URL).pathname.slice(1)), sns.constructed_vectors.test_certificate_pem);
      writeFileSync(join(certDir, new URL(sns.signing_certificate.url).pathname.slice(1)), sns.signing_certificate.pem);
      // SNS as the server reaches it: the ConfirmSubscription action answers, any other URL is not found (as on AWS).
      const providerFetch: typeof fetch = async (input) => {
        const url = new URL(String(input));
        outbound.push(url.href);
        if (!url.hostname.endsWith('.amazonaws.com')) throw new Error(`the test only reaches SNS, not ${url.hostname}`);
        if (url.pathname === '/' && url.searchParams.get('Action') === 'ConfirmSubscription') {
          const arn = `${url.searchParams.get('TopicArn')}:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55`;
          return new Response(`<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>${arn}</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>`, { status: 200 });
        }
        return new Response('<Error><Code>NoSuchKey</Code></Error>', { status: 404 });
      };
      const server = await startServer(dialect, { snsCertDir: certDir, providerFetch });
      world = { server, otherApiKey: (await server.mailtrail.createEnvironment('other')).apiKey };
    });
    afterAll(async () => {
      await world.server.stop();
      rmSync(certDir, { recursive: true, force: true });
    });

    for (const [providerId, build] of PROVIDERS) {
      describe(providerId, () => {
        let fuzz: ProviderFuzz;
        beforeAll(async () => {
          fuzz = await build(world);
        });

        it('refuses any body without valid authentication with a 4xx, and stores nothing', async () => {
          const before = outbound.length;
          await fc.assert(
            fc.asyncProperty(fc.array(tagged(fuzz.forged.map(({ sent }) => ({ cases: sent }))), { minLength: 1, maxLength: BATCH }), async (batch) => {
              await Promise.all(
                batch.map(async ({ index, value: sent }) => {
                  const { target, codes } = fuzz.forged[index]!;
                  expectRefusal(await post(world.server, target, sent), codes, sent);
                }),
              );
            }),
            FUZZ,
          );
          for (const { target } of fuzz.forged) await expectNothingStored(world.server, target);
          // an unverified request never makes the server call anyone (no SNS confirmation, no certificate download)
          expect(outbound.slice(before)).toEqual([]);
        });

        it('refuses a signed request changed after signing (or sent with nearly the right credentials) with a 401, and stores nothing of it', async () => {
          const before = outbound.length;
          const genuine = fuzz.tampered.map(() => [] as unknown[]);
          await fc.assert(
            fc.asyncProperty(fc.array(tagged(fuzz.tampered), { minLength: 1, maxLength: BATCH }), async (batch) => {
              // a change that changes nothing the provider signs is no tampering
              const changed = batch.flatMap(({ index, value }) => (value === null ? [] : [{ index, value }]));
              fc.pre(changed.length > 0);
              await Promise.all(
                changed.map(async ({ index, value }) => {
                  const { target, codes } = fuzz.tampered[index]!;
                  const { genuine: first, sent } = value;
                  if (first) {
                    const answer = await post(world.server, target, first);
                    expectAnswer(answer, ['MT_ERR_INVALID_BODY'], first);
                    if (answer.status === 200) genuine[index]!.push(JSON.parse(first.body.toString()));
                  }
                  expectRefusal(await post(world.server, target, sent), codes, sent);
                }),
              );
            }),
            { ...FUZZ, maxSkipsPerRun: 1000 },
          );
          for (const [index, { target }] of fuzz.tampered.entries()) await expectNothingStored(world.server, target, genuine[index]);
          expect(outbound.slice(before)).toEqual([]);
        });

        it('answers an authentic request with any body 200 or a stable 4xx, never a 5xx, and the same again on a retry', async () => {
          const accepted = fuzz.authentic.map(() => new Set<string>());
          await fc.assert(
            fc.asyncProperty(fc.array(tagged(fuzz.authentic.map(({ sent }) => ({ cases: sent }))), { minLength: 1, maxLength: BATCH }), async (batch) => {
              await Promise.all(
                batch.map(async ({ index, value: sent }) => {
                  const { target, codes } = fuzz.authentic[index]!;
                  for (const eventId of await expectStableAnswer(world.server, target, sent, codes)) accepted[index]!.add(eventId);
                }),
              );
            }),
            FUZZ,
          );
          // what was answered 200 is durable
          for (const [index, { target }] of fuzz.authentic.entries()) {
            const stored = new Set((await storedEvents(world.server, target)).map((event) => event.id));
            expect([...accepted[index]!].filter((eventId) => !stored.has(eventId))).toEqual([]);
          }
        });
      });
    }

    // Minimal cases of what the properties above found, so that each one fails on its own until it is fixed.
    describe('found by fuzzing', () => {
      it('refuses an SNS message whose SigningCertURL names a certificate SNS does not have with a 4xx, not a 5xx', async () => {
        const target = await createTarget(world.server, { providerId: 'amazon-ses', name: 'forged certificate URL', settings: { topicArns: [TOPIC] } });
        const forged = signSns({ Type: 'Notification', MessageId: 'sns-forged-cert', TopicArn: TOPIC, Message: '{"eventType":"Send","mail":{"messageId":"m"}}', Timestamp: '2026-11-21T11:00:00.000Z' }, '2');
        // a certificate URL of the right form on an SNS host, which SNS answers 404 for
        const sent = { body: JSON.stringify({ ...forged, SigningCertURL: CERT_URL.replace('0123456789abcdef0123456789abcdef', 'ffffffffffffffffffffffffffffffff') }), headers: SNS_HEADERS };
        expectRefusal(await post(world.server, target, sent), ['MT_ERR_SIGNATURE_INVALID'], sent);
        await expectNothingStored(world.server, target);
      });

      it('answers a signed Mailgun request whose token holds a NUL the same way on every database, without a 5xx', async () => {
        const target = await createTarget(world.server, { providerId: 'mailgun', name: 'NUL token', signingKey: MAILGUN_KEY });
        const timestamp = String(Math.floor(Date.now() / 1000));
        const token = `${fresh()}\u0000`;
        const sent = {
          body: JSON.stringify({ signature: { timestamp, token, signature: mailgunSignature(timestamp, token) }, 'event-data': { event: 'delivered', id: 'nul-token', recipient: 'a@example.com' } }),
          headers: { 'content-type': 'application/json' },
        };
        await expectStableAnswer(world.server, target, sent, ['MT_ERR_SIGNATURE_INVALID']);
      });

      it('stores a second event for a provider message id made of NUL like the first, without a 5xx', async () => {
        const target = await createTarget(world.server, { providerId: 'generic', name: 'NUL message id' });
        const headers = { 'content-type': 'application/json', authorization: `ApiKey ${world.server.apiKey}` };
        for (const status of ['delivered', 'opened']) {
          const sent = { body: JSON.stringify({ status, date: '2026-11-21T10:00:00Z', externalId: '\u0000' }), headers };
          await expectStableAnswer(world.server, target, sent, []);
        }
      });

      it('answers a signed SNS unsubscribe whose TopicArn holds a NUL the same way on every database, without a 5xx', async () => {
        const target = await createTarget(world.server, { providerId: 'amazon-ses', name: 'NUL topic', settings: { topicArns: [ANY_TOPIC] } });
        const topic = 'arn:aws:sns:us-east-1:123456789012:t\u0000';
        const unsubscribe = { Type: 'UnsubscribeConfirmation', MessageId: 'sns-nul-topic', TopicArn: topic, Token: 't', SubscribeURL: subscribeUrl(topic, 't'), Message: 'unsubscribed', Timestamp: '2026-11-21T11:00:00.000Z' };
        const sent = { body: JSON.stringify(signSns(unsubscribe, '2')), headers: { ...SNS_HEADERS, 'x-amz-sns-message-type': 'UnsubscribeConfirmation' } };
        await expectStableAnswer(world.server, target, sent, ['MT_ERR_FORBIDDEN', 'MT_ERR_SIGNATURE_INVALID']);
      });
    });

    it('is still healthy after all of it', async () => {
      const health = await fetch(world.server.url + '/healthz');
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'ok' });
      expect((await fetch(world.server.url + '/readyz')).status).toBe(200);
    });
  });
}
