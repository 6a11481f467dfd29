import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH } from '../src/core/json-depth.js';
import { renderPayload } from '../src/outbound/payload.js';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { signMandrill, signSns, SNS } from './helpers/signers.js';
import { DIALECTS, execute } from './helpers/stores.js';

// Issue 9, item 3: one payload nested thousands of levels deep must neither be stored nor, when it already is,
// make the environment's events unreadable.
const LEVELS = 10_000;
const deepArray = (levels = LEVELS) => '['.repeat(levels) + '1' + ']'.repeat(levels);
const deepObject = (levels = LEVELS) => '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);

for (const dialect of DIALECTS) {
  describe(`${dialect}: payloads nested too deep`, () => {
    let server: TestServer;
    let generic: string;
    const apiKeyJson = () => ({ 'content-type': 'application/json', authorization: `ApiKey ${server.apiKey}` });

    beforeAll(async () => {
      server = await startServer(dialect);
      generic = (await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'own code' } })).body.id;
    });
    afterAll(() => server.stop());

    const event = (id: string, extra: string) =>
      `{"id":"${id}","event":{"status":"delivered","date":"2026-11-21T12:00:00Z","externalId":"deep-msg"},"recipient":"ada@example.com","extra":${extra}}`;

    it('refuses 10,000 levels in an array, in an object and inside a known event, and stores nothing', async () => {
      for (const body of [deepArray(), deepObject(), event('deep-1', deepArray()), `[${event('deep-2', deepObject())}]`]) {
        const answer = await server.inbound(generic, body, apiKeyJson());
        expect(answer).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_BODY_TOO_DEEP', message: expect.stringContaining(String(MAX_JSON_DEPTH)) } } });
      }
      expect((await server.api('/v1/events')).body.data).toEqual([]);
    });

    it('accepts an event nested exactly to the limit', async () => {
      // the event object is the first level
      const answer = await server.inbound(generic, event('limit-1', deepArray(MAX_JSON_DEPTH - 1)), apiKeyJson());
      expect(answer.status).toBe(200);
      const refused = await server.inbound(generic, event('limit-2', deepArray(MAX_JSON_DEPTH)), apiKeyJson());
      expect(refused.body.error.code).toBe('MT_ERR_BODY_TOO_DEEP');
    });

    it('refuses a signed SendGrid batch whose event carries a deep field', async () => {
      const keys = sendgridKeys();
      const created = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } });
      const good = { email: 'bo@example.com', timestamp: 1795258800, event: 'delivered', sg_event_id: 'sg-deep-0', sg_message_id: 'sg-deep.1' };
      // built as text: JSON.stringify itself runs out of stack on such a value
      const deep = JSON.stringify({ ...good, sg_event_id: 'sg-deep-1' }).slice(0, -1) + `,"unique_arg":${deepObject()}}`;
      const body = sendgridBatch([good]).replace(/\]\r\n$/, `,\r\n${deep}]\r\n`);
      expect(body).toContain('sg-deep-1');
      const answer = await server.inbound(created.body.id, body, signSendgrid(keys.privateKey, body));
      expect(answer).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_BODY_TOO_DEEP' } } });
    });

    it('refuses deep JSON held in a form field (Mandrill), which the body scan cannot see', async () => {
      const key = 'mandrill-webhook-key-0123456789';
      const created = await server.api('/v1/integrations', { body: { providerId: 'mandrill', name: 'Mandrill', signingKey: key } });
      const events = `[{"event":"send","_id":"md-deep","ts":1795258800,"msg":{"_id":"md-deep","email":"gus@example.com","metadata":${deepObject()}}}]`;
      const form = new URLSearchParams({ mandrill_events: events }).toString();
      const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-mandrill-signature': signMandrill(created.body.inboundWebhookUrl, form, key) };
      expect(await server.inbound(created.body.id, form, headers)).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_BODY_TOO_DEEP' } } });
    });

    it('refuses a signed SNS notification whose SES event (JSON inside the Message string) is deep', async () => {
      const certDir = mkdtempSync(join(tmpdir(), 'mailtrail-sns-certs-'));
      writeFileSync(join(certDir, new URL(SNS.constructed_vectors.signing_cert_url).pathname.slice(1)), SNS.constructed_vectors.test_certificate_pem);
      const sesServer = await startServer(dialect, { snsCertDir: certDir });
      try {
        const topic = 'arn:aws:sns:us-east-1:123456789012:ses-events';
        const created = await sesServer.api('/v1/integrations', { body: { providerId: 'amazon-ses', name: 'SES', settings: { topicArns: [topic] } } });
        const message = `{"eventType":"Delivery","mail":{"messageId":"ses-deep","destination":["a@example.com"],"headers":${deepArray()}},"delivery":{}}`;
        const envelope = (id: string, text: string) => JSON.stringify(signSns({ Type: 'Notification', MessageId: id, TopicArn: topic, Message: text, Timestamp: '2026-11-21T11:00:00.000Z' }));
        const headers = { 'content-type': 'text/plain; charset=UTF-8', 'x-amz-sns-message-type': 'Notification' };
        expect(await sesServer.inbound(created.body.id, envelope('sns-deep', message), headers)).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_BODY_TOO_DEEP' } } });
        const shallow = message.replace(deepArray(), '[]');
        expect((await sesServer.inbound(created.body.id, envelope('sns-shallow', shallow), headers)).status).toBe(200);
      } finally {
        await sesServer.stop();
        rmSync(certDir, { recursive: true, force: true });
      }
    });

    it('reads events, the message and the feed when a deep payload is already stored', async () => {
      // Stored the way data from before the bound was: straight into the store, past the inbound check.
      const raw = event('stored-deep', deepArray());
      const [result] = await server.storage.store.ingest({
        environmentId: server.environmentId,
        integrationId: generic,
        provider: 'generic',
        receivedAt: Date.now(),
        events: [{ status: 'delivered', nativeType: 'delivered', occurredAt: Date.parse('2026-11-21T12:00:00Z'), dedupeKey: 'stored-deep', providerMessageId: 'stored-deep-msg', recipient: 'cy@example.com', raw }],
      });
      const messageId = result!.event.messageId!;

      const events = await server.api('/v1/events');
      expect(events.status).toBe(200);
      const stored = events.body.data.find((item: { id: string }) => item.id === result!.event.id);
      expect(stored.raw).toBe(raw);
      // the shallow events beside it still come back as JSON
      expect(events.body.data.some((item: { raw: unknown }) => typeof item.raw === 'object')).toBe(true);

      const message = await server.api(`/v1/messages/${messageId}`);
      expect(message.status).toBe(200);
      expect(message.body.timeline[0].raw).toBe(raw);
      expect((await server.api('/v1/messages')).status).toBe(200);

      // the outbound payload of that event renders as well
      const body = renderPayload(result!.event, null);
      expect(JSON.parse(body).data.event.raw).toBe(raw);
    });

    it('reads messages and integrations whose metadata or settings were stored nested too deep', async () => {
      const [result] = await server.storage.store.ingest({
        environmentId: server.environmentId,
        integrationId: generic,
        provider: 'generic',
        receivedAt: Date.now(),
        events: [{ status: 'sent', nativeType: 'sent', occurredAt: Date.parse('2026-11-21T12:00:00Z'), dedupeKey: 'deep-meta', providerMessageId: 'deep-meta-msg', recipient: 'di@example.com', raw: '{}' }],
      });
      const messageId = result!.event.messageId!;
      // as only a write from before the bound could have left them
      await execute(server.storage, `update messages set metadata = '{"a":${deepArray()}}' where id = '${messageId}'`);
      await execute(server.storage, `update integrations set settings = '${deepObject()}' where id = '${generic}'`);

      for (const path of ['/v1/messages', `/v1/messages/${messageId}`, '/v1/integrations', `/v1/integrations/${generic}`, '/v1/events']) {
        expect((await server.api(path)).status, path).toBe(200);
      }
      expect((await server.api(`/v1/messages/${messageId}`)).body.metadata).toEqual({});
      expect((await server.api(`/v1/integrations/${generic}`)).body.settings).toEqual({});
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: management API bodies nested too deep`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect);
    });
    afterAll(() => server.stop());

    const post = (path: string, body: string, method = 'POST') =>
      fetch(server.url + path, { method, headers: { authorization: `ApiKey ${server.apiKey}`, 'content-type': 'application/json' }, body }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as { error?: { code: string } },
      }));

    it('refuses deep message metadata and integration settings with 400, and leaves what is stored as it was', async () => {
      const created = await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'own code' } });
      const message = `{"integrationId":"${created.body.id}","providerMessageId":"deep-meta","to":"ada@example.com","metadata":{"a":${deepArray()}}}`;
      expect(await post('/v1/messages', message)).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_BODY_TOO_DEEP' } } });
      expect(await post(`/v1/integrations/${created.body.id}`, `{"settings":${deepObject()}}`, 'PATCH')).toMatchObject({ status: 400, body: { error: { code: 'MT_ERR_BODY_TOO_DEEP' } } });
      expect((await server.api('/v1/messages')).body.data).toEqual([]);
      expect((await server.api(`/v1/integrations/${created.body.id}`)).body).toEqual(created.body);

      // a body within the bound still reaches the route's validator
      const shallow = await post('/v1/messages', `{"integrationId":"${created.body.id}","providerMessageId":"ok-meta","to":"ada@example.com","metadata":{"a":[[1]]}}`);
      expect(shallow.status).toBe(201);
    });
  });
}

describe('management API bodies over the body limit', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('sqlite', { bodyLimit: 64 * 1024 });
  });
  afterAll(() => server.stop());

  it('answers 413 and stores nothing, as inbound URLs do', async () => {
    const created = await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'own code' } });
    const big = JSON.stringify({ integrationId: created.body.id, providerMessageId: 'big', to: 'ada@example.com', metadata: { filler: 'x'.repeat(100 * 1024) } });
    const response = await fetch(`${server.url}/v1/messages`, { method: 'POST', headers: { authorization: `ApiKey ${server.apiKey}`, 'content-type': 'application/json' }, body: big });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('MT_ERR_BODY_TOO_LARGE');
    expect((await server.api('/v1/messages')).body.data).toEqual([]);
  });
});
