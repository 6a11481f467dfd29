import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EmailEvent } from '../src/index.js';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

const vectors = JSON.parse(readFileSync(new URL('./fixtures/sendgrid/vectors.json', import.meta.url), 'utf8'));
const docsBatch: string = vectors.sample_payloads[0].raw;

for (const dialect of DIALECTS) {
  describe(`${dialect}: SendGrid inbound over HTTP`, () => {
    let server: TestServer;
    const keys = sendgridKeys();
    let signed: { id: string; inboundWebhookUrl: string };
    let inboundPath: string;

    const post = (path: string, body: string, headers: Record<string, string>) => fetch(server.url + path, { method: 'POST', headers, body });
    const postSigned = (body: string, extra: Record<string, string> = {}) => post(inboundPath, body, { ...signSendgrid(keys.privateKey, body), ...extra });
    const eventCount = async () => {
      let count = 0;
      let cursor: string | null = null;
      do {
        const page: { body: { data: unknown[]; next: string | null } } = await server.api(`/v1/events?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
        count += page.body.data.length;
        cursor = page.body.next;
      } while (cursor);
      return count;
    };

    beforeAll(async () => {
      server = await startServer(dialect, { bodyLimit: 256 * 1024 });
      const created = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid prod', signingKey: keys.publicKeyBase64 } });
      expect(created.status).toBe(201);
      signed = created.body;
      inboundPath = new URL(signed.inboundWebhookUrl).pathname;
    });
    afterAll(async () => {
      await server.stop();
    });

    it('creates an integration whose key is never shown and whose URL is built from PUBLIC_URL', async () => {
      expect(signed).toMatchObject({ providerId: 'sendgrid', hasSigningKey: true, activityTracking: true, allowUnsigned: false });
      expect(signed.inboundWebhookUrl).toBe(`https://mailtrail.example.com/v2/inbound-webhooks/delivery-providers/${server.environmentId}/${signed.id}`);
      const fetched = await server.api(`/v1/integrations/${signed.id}`);
      expect(JSON.stringify(fetched.body)).not.toContain(keys.publicKeyBase64.slice(30, 60));
      const listed = await server.api('/v1/integrations');
      expect(listed.body.data.map((integration: { id: string }) => integration.id)).toContain(signed.id);
    });

    it('keeps the signing key sealed in the database', async () => {
      const { location } = server.storage;
      let stored: string;
      if (dialect === 'sqlite') {
        stored = readFileSync(join(location.dataDir, 'mailtrail.db')).toString('latin1') + readWalIfAny(location.dataDir);
      } else {
        const pg = (await import('pg')).default;
        const client = new pg.Client({ connectionString: location.databaseUrl });
        await client.connect();
        const { rows } = await client.query(`select * from ${location.schema}.integrations`);
        await client.end();
        stored = JSON.stringify(rows);
      }
      expect(stored).toContain(signed.id);
      expect(stored).not.toContain(keys.publicKeyBase64.slice(30, 60));
    });

    it('refuses a signing key that can never verify', async () => {
      const response = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'bad', signingKey: 'not-a-key' } });
      expect(response.status).toBe(400);
      expect(response.body.error.code).toBe('MT_ERR_VALIDATION');
      const unknown = await server.api('/v1/integrations', { body: { providerId: 'carrier-pigeon', name: 'x' } });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.code).toBe('MT_ERR_UNKNOWN_PROVIDER');
    });

    it('stores every event of a signed batch and answers in the notification-platform shape', async () => {
      const body = docsBatch.replace(/"sg_event_id":"sg_event_id"/g, '"sg_event_id":"docs-batch"');
      const response = await postSigned(body);
      expect(response.status).toBe(200);
      const items = (await response.json()) as { id: string; event: Record<string, unknown> }[];
      // eleven events in the batch; group_resubscribe has no mapping and is stored but not listed
      expect(items).toHaveLength(10);
      expect(items.map((item) => item.event.status)).toEqual([
        'sent', 'delayed', 'delivered', 'opened', 'clicked', 'bounced', 'dropped', 'complaint', 'unsubscribed', 'unsubscribed',
      ]);
      for (const item of items) {
        expect(item.id).toMatch(/^evt_/);
        expect(item.event.date).toBe('2017-12-15T00:59:29.000Z');
        expect(item.event.externalId).toBe('sg_message_id');
        expect(body).toContain(item.event.row as string);
        expect(Object.values(item.event)).not.toContain(null);
      }
      expect(items[1]!.event).toMatchObject({ attempts: 5, response: '400 try again later' });
      expect(items[0]!.event).not.toHaveProperty('attempts');

      const ignored = await server.api('/v1/events?nativeType=group_resubscribe');
      expect(ignored.body.data).toHaveLength(1);
      expect(ignored.body.data[0]).toMatchObject({ status: null, ignored: true, raw: { event: 'group_resubscribe' } });
    });

    it('answers a retried batch with the same ids and stores nothing twice', async () => {
      const body = sendgridBatch([
        { email: 'retry@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'r1', sg_message_id: 'RETRY.filter-1' },
        { email: 'retry@example.com', event: 'open', timestamp: 1700000100, sg_event_id: 'r2', sg_message_id: 'RETRY.filter-1' },
      ]);
      const first = await (await postSigned(body)).json();
      const before = await eventCount();
      const again = await postSigned(body);
      expect(again.status).toBe(200);
      expect(await again.json()).toEqual(first);
      expect(await eventCount()).toBe(before);
    });

    it('accepts the official SendGrid vectors and refuses the broken ones', async () => {
      for (const vector of vectors.official_vectors) {
        const integration = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: vector.name.slice(0, 100), signingKey: vector.public_key_base64_spki_der } });
        const response = await post(new URL(integration.body.inboundWebhookUrl).pathname, vector.raw_body, {
          'content-type': 'application/json',
          'x-twilio-email-event-webhook-signature': vector.header_X_Twilio_Email_Event_Webhook_Signature,
          'x-twilio-email-event-webhook-timestamp': vector.header_X_Twilio_Email_Event_Webhook_Timestamp,
        });
        expect(response.status, vector.name).toBe(vector.expect_valid ? 200 : 401);
        if (!vector.expect_valid) expect(((await response.json()) as any).error.code).toBe('MT_ERR_SIGNATURE_INVALID');
      }
    });

    it('fails closed when a key is configured: no signature is 401 even with an API key', async () => {
      const body = sendgridBatch([{ email: 'x@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'fc1' }]);
      const before = await eventCount();
      const unsigned = await post(inboundPath, body, { 'content-type': 'application/json', authorization: `ApiKey ${server.apiKey}` });
      expect(unsigned.status).toBe(401);
      expect(((await unsigned.json()) as any).error.code).toBe('MT_ERR_SIGNATURE_MISSING');
      const forged = await post(inboundPath, body, signSendgrid(sendgridKeys().privateKey, body));
      expect(forged.status).toBe(401);
      expect(((await forged.json()) as any).error.code).toBe('MT_ERR_SIGNATURE_INVALID');
      const tampered = await post(inboundPath, body.replace('delivered', 'bounce'), signSendgrid(keys.privateKey, body));
      expect(tampered.status).toBe(401);
      expect(await eventCount()).toBe(before);
    });

    it('without a key, takes the environment API key or allowUnsigned, and otherwise says how to fix it', async () => {
      const keyless = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'keyless' } })).body;
      const path = new URL(keyless.inboundWebhookUrl).pathname;
      const body = sendgridBatch([{ email: 'k@example.com', event: 'processed', timestamp: 1700000000, sg_event_id: 'k1' }]);
      const refused = await post(path, body, { 'content-type': 'application/json' });
      expect(refused.status).toBe(401);
      const error = ((await refused.json()) as any).error;
      expect(error.code).toBe('MT_ERR_UNSIGNED_NOT_ALLOWED');
      expect(error.message).toMatch(/signingKey/);
      expect(error.message).toMatch(/allowUnsigned/);

      const other = await startServer(dialect);
      try {
        const wrongKey = await post(path, body, { 'content-type': 'application/json', authorization: `ApiKey ${other.apiKey}` });
        expect(wrongKey.status).toBe(401);
      } finally {
        await other.stop();
      }
      const withKey = await post(path, body, { 'content-type': 'application/json', authorization: `Bearer ${server.apiKey}` });
      expect(withKey.status).toBe(200);

      const open = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'open', allowUnsigned: true } })).body;
      expect((await post(new URL(open.inboundWebhookUrl).pathname, body, { 'content-type': 'application/json' })).status).toBe(200);
    });

    it('gives one 404 for an unknown environment, an unknown integration and another environment’s integration', async () => {
      const body = sendgridBatch([{ event: 'delivered' }]);
      const headers = signSendgrid(keys.privateKey, body);
      const answers = [];
      const second = await server.mailtrail.createEnvironment('second');
      const theirs = (await server.api('/v1/integrations', { apiKey: second.apiKey, body: { providerId: 'sendgrid', name: 'theirs', allowUnsigned: true } })).body;
      for (const path of [
        `/v2/inbound-webhooks/delivery-providers/env_nope/${signed.id}`,
        `/v2/inbound-webhooks/delivery-providers/${server.environmentId}/int_nope`,
        `/v2/inbound-webhooks/delivery-providers/${server.environmentId}/${theirs.id}`,
        `/v2/inbound-webhooks/delivery-providers/${second.environmentId}/${signed.id}`,
      ]) {
        const response = await post(path, body, headers);
        expect(response.status).toBe(404);
        answers.push(await response.json());
      }
      for (const answer of answers) expect(answer).toEqual(answers[0]);
      expect((answers[0] as any).error.code).toBe('MT_ERR_INTEGRATION_NOT_FOUND');
    });

    it('refuses other content types, oversized bodies and unreadable JSON without storing anything', async () => {
      const before = await eventCount();
      const text = await post(inboundPath, '[]', { ...signSendgrid(keys.privateKey, '[]'), 'content-type': 'text/plain' });
      expect(text.status).toBe(415);
      expect(((await text.json()) as any).error.code).toBe('MT_ERR_UNSUPPORTED_MEDIA_TYPE');

      const huge = sendgridBatch(Array.from({ length: 2000 }, (_, i) => ({ email: `h${i}@example.com`, event: 'delivered', timestamp: 1700000000, sg_event_id: `h${i}`, pad: 'x'.repeat(100) })));
      const tooLarge = await postSigned(huge);
      expect(tooLarge.status).toBe(413);
      expect(((await tooLarge.json()) as any).error.code).toBe('MT_ERR_BODY_TOO_LARGE');

      // a chunked body (no Content-Length) is cut off at the limit too
      const stream = new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode(huge));
          controller.close();
        },
      });
      const chunked = await fetch(server.url + inboundPath, { method: 'POST', headers: signSendgrid(keys.privateKey, huge), body: stream, duplex: 'half' } as RequestInit);
      expect(chunked.status).toBe(413);

      const broken = '[{"event": "delivered",';
      const invalid = await postSigned(broken);
      expect(invalid.status).toBe(400);
      expect(((await invalid.json()) as any).error.code).toBe('MT_ERR_INVALID_BODY');
      expect(await eventCount()).toBe(before);
    });

    it('stores events with values no database column can hold, instead of failing the batch forever', async () => {
      // each of these once made the whole batch fail with 503, so SendGrid would have retried it for 24 hours
      const hostile = [
        { email: 'nul\u0000@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'h1\u0000', sg_message_id: 'HOSTILE.1', reason: 'a\u0000b' },
        { email: 'big@example.com', event: 'deferred', timestamp: 1e300, attempt: 2095215549406896, sg_event_id: 'h2', sg_message_id: 'HOSTILE.2' },
        { email: 'x'.repeat(5000) + '@example.com', event: 'open', timestamp: -5, sg_event_id: 'h3'.repeat(2000), sg_message_id: 'H'.repeat(5000), mailtrail_id: 'not allowed\u0000' },
      ];
      const body = sendgridBatch(hostile);
      const response = await postSigned(body);
      expect(response.status).toBe(200);
      const items = (await response.json()) as { id: string; event: Record<string, unknown> }[];
      expect(items).toHaveLength(3);
      expect(items[1]!.event).not.toHaveProperty('attempts');
      const stored = await server.api('/v1/events?recipient=nul@example.com');
      expect(stored.body.data[0]).toMatchObject({ reason: 'ab', occurredAt: '2023-11-14T22:13:20.000Z' });
      expect((await postSigned(body)).status).toBe(200);
    });

    it('keeps matching keys that hold lone surrogates, which the database stores as U+FFFD', async () => {
      const lone = (suffix: string, event: string, timestamp: number) =>
        `{"email":"lone\\ud800@example.com","event":"${event}","timestamp":${timestamp},"sg_event_id":"s\\ud800${suffix}","sg_message_id":"LONE\\udc00.1"}`;
      const first = `[${lone('1', 'processed', 1700000000)}]`;
      const firstIds = ((await (await postSigned(first)).json()) as { id: string }[]).map((item) => item.id);
      const retried = await postSigned(first);
      expect(retried.status).toBe(200);
      expect(((await retried.json()) as { id: string }[]).map((item) => item.id)).toEqual(firstIds);
      expect((await postSigned(`[${lone('2', 'delivered', 1700000100)}]`)).status).toBe(200);
      const feed = await server.api('/v1/messages?providerMessageId=' + encodeURIComponent('LONE\ufffd'));
      expect(feed.body.data).toHaveLength(1);
      expect(feed.body.data[0].state).toMatchObject({ status: 'delivered', eventCount: 2 });
    });

    it('replays an idempotent request, refuses the key with another body, and refuses it while in flight', async () => {
      const body = sendgridBatch([{ email: 'idem@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'i1', sg_message_id: 'IDEM.x' }]);
      const first = await postSigned(body, { 'idempotency-key': 'batch-1' });
      expect(first.status).toBe(200);
      expect(first.headers.get('idempotency-replay')).toBeNull();
      const firstBody = await first.text();
      const replay = await postSigned(body, { 'idempotency-key': 'batch-1' });
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotency-replay')).toBe('true');
      expect(await replay.text()).toBe(firstBody);

      const otherBody = body.replace('i1', 'i2');
      const mismatch = await postSigned(otherBody, { 'idempotency-key': 'batch-1' });
      expect(mismatch.status).toBe(422);
      expect(((await mismatch.json()) as any).error.code).toBe('MT_ERR_IDEMPOTENCY_KEY_REUSED');

      await server.mailtrail.store.claimIdempotencyKey({ environmentId: server.environmentId, integrationId: signed.id, key: 'busy', bodyHash: createHash('sha256').update(body).digest('hex'), now: Date.now() });
      const busy = await postSigned(body, { 'idempotency-key': 'busy' });
      expect(busy.status).toBe(409);
      expect(((await busy.json()) as any).error.code).toBe('MT_ERR_IDEMPOTENCY_KEY_IN_FLIGHT');
    });

    it('answers 503 when the database fails, and the provider’s retry then stores the batch once', async () => {
      const body = sendgridBatch([{ email: 'outage@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'o1', sg_message_id: 'OUTAGE.x' }]);
      await renameEvents(server, 'events', 'events_away');
      let failed: Response;
      try {
        failed = await postSigned(body);
      } finally {
        await renameEvents(server, 'events_away', 'events');
      }
      expect(failed.status).toBe(503);
      const error = ((await failed.json()) as any).error;
      expect(error.code).toBe('MT_ERR_STORAGE_UNAVAILABLE');
      expect(JSON.stringify(error)).not.toMatch(/events_away|stack|at /);
      const retried = await postSigned(body);
      expect(retried.status).toBe(200);
      const feed = await server.api('/v1/events?recipient=outage@example.com');
      expect(feed.body.data).toHaveLength(1);
    });

    it('correlates events to a registered message and derives its state whatever the arrival order', async () => {
      const registered = await server.api('/v1/messages', {
        body: { integrationId: signed.id, providerMessageId: 'ORDERED123', to: 'Grace@Example.com', id: 'welcome-grace', subject: 'Welcome', tags: ['onboarding'], metadata: { plan: 'pro' } },
      });
      expect(registered.status).toBe(201);
      const base = { email: 'grace@example.com', sg_message_id: 'ORDERED123.filterdrecv-1' };
      // delivered and open arrive before processed; the open's provider time is later than the delivery
      await postSigned(sendgridBatch([{ ...base, event: 'open', timestamp: 1700000300, sg_event_id: 'g3', useragent: 'Mozilla/5.0' }]));
      await postSigned(sendgridBatch([{ ...base, event: 'delivered', timestamp: 1700000100, sg_event_id: 'g2', response: '250 OK' }]));
      await postSigned(sendgridBatch([{ ...base, event: 'processed', timestamp: 1700000000, sg_event_id: 'g1' }]));
      const message = await server.api('/v1/messages/welcome-grace');
      expect(message.status).toBe(200);
      expect(message.body).toMatchObject({ id: 'welcome-grace', to: 'grace@example.com', status: 'delivered', origin: 'api', tags: ['onboarding'], metadata: { plan: 'pro' } });
      expect(message.body.state).toMatchObject({ opens: 1, humanOpens: 1, eventCount: 3, statusAt: '2023-11-14T22:15:00.000Z' });
      expect(message.body.timeline.map((event: { nativeType: string }) => event.nativeType)).toEqual(['processed', 'delivered', 'open']);
    });

    it('merges events that arrived before registration, and follows custom arg mailtrail_id', async () => {
      await postSigned(sendgridBatch([{ email: 'early@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'e1', sg_message_id: 'EARLY.x' }]));
      const provisional = await server.api('/v1/messages?providerMessageId=EARLY');
      expect(provisional.body.data).toHaveLength(1);
      expect(provisional.body.data[0].origin).toBe('provider');
      const registered = await server.api('/v1/messages', { body: { integrationId: signed.id, providerMessageId: 'EARLY', to: 'early@example.com', id: 'early-1' } });
      expect(registered.status).toBe(200);
      expect(registered.body).toMatchObject({ id: 'early-1', origin: 'api', status: 'delivered' });
      expect((await server.api(`/v1/messages/${provisional.body.data[0].id}`)).status).toBe(404);

      await postSigned(sendgridBatch([{ email: 'other@example.com', event: 'click', timestamp: 1700000500, sg_event_id: 'e2', sg_message_id: 'ELSEWHERE.y', mailtrail_id: 'early-1', url: 'https://example.com/a' }]));
      const message = await server.api('/v1/messages/early-1');
      expect(message.body.state).toMatchObject({ clicks: 1, eventCount: 2 });
    });

    it('rejects a clashing registration with 409 and a message of another environment is 404', async () => {
      const clash = await server.api('/v1/messages', { body: { integrationId: signed.id, providerMessageId: 'OTHER', to: 'grace@example.com', id: 'welcome-grace' } });
      expect(clash.status).toBe(409);
      expect(clash.body.error.code).toBe('MT_ERR_CONFLICT');
      const invalid = await server.api('/v1/messages', { body: { integrationId: signed.id, providerMessageId: 'X', to: 'not-an-email' } });
      expect(invalid.status).toBe(400);
      expect(invalid.body.error.code).toBe('MT_ERR_VALIDATION');

      const other = await startServer(dialect);
      try {
        // the other server is another database too; the same key on this server must not work
        expect((await server.api('/v1/messages/welcome-grace', { apiKey: other.apiKey })).status).toBe(401);
        const otherIntegration = (await other.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'o' } })).body;
        expect((await server.api(`/v1/integrations/${otherIntegration.id}`)).status).toBe(404);
      } finally {
        await other.stop();
      }
      const second = await server.mailtrail.createEnvironment('second');
      expect((await server.api('/v1/messages/welcome-grace', { apiKey: second.apiKey })).status).toBe(404);
      expect((await server.api(`/v1/integrations/${signed.id}`, { apiKey: second.apiKey })).status).toBe(404);
      expect((await server.api(`/v1/integrations/${signed.id}`, { apiKey: second.apiKey, method: 'DELETE' })).status).toBe(404);
      expect((await server.api('/v1/messages', { apiKey: second.apiKey })).body.data).toHaveLength(0);
    });

    it('pages the feed with filters and a cursor', async () => {
      const all = await server.api('/v1/messages?limit=500');
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await server.api(`/v1/messages?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        expect(page.status).toBe(200);
        seen.push(...page.body.data.map((message: { id: string }) => message.id));
        cursor = page.body.next;
      } while (cursor);
      expect(seen).toEqual(all.body.data.map((message: { id: string }) => message.id));
      const delivered = await server.api('/v1/messages?status=delivered&tag=onboarding');
      expect(delivered.body.data.map((message: { id: string }) => message.id)).toEqual(['welcome-grace']);
      expect((await server.api('/v1/messages?q=welc')).body.data.map((message: { id: string }) => message.id)).toContain('welcome-grace');
      expect((await server.api('/v1/messages?status=nonsense')).status).toBe(400);
      expect((await server.api('/v1/messages?cursor=garbage')).body.error.code).toBe('MT_ERR_INVALID_CURSOR');
      expect((await server.api('/v1/events?status=opened&limit=1')).body.data[0].status).toBe('opened');
    });

    it('tells library handlers about committed events, once each', async () => {
      const seen: EmailEvent[] = [];
      const off = server.mailtrail.on('email.bounced', (payload) => {
        seen.push(payload);
      });
      server.mailtrail.on('email.bounced', () => {
        throw new Error('a broken handler must not break ingest');
      });
      const body = sendgridBatch([{ email: 'lib@example.com', event: 'bounce', type: 'bounce', status: '5.1.1', reason: '550 no such user', timestamp: 1700000000, sg_event_id: 'l1', sg_message_id: 'LIB.x' }]);
      expect((await postSigned(body)).status).toBe(200);
      expect((await postSigned(body)).status).toBe(200);
      off();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({ type: 'email.bounced', event: { status: 'bounced', bounceType: 'hard', reason: '550 no such user' }, message: { state: { status: 'bounced' } } });
    });

    it('stores a batch of 3,000 events in one request', async () => {
      const events = Array.from({ length: 3000 }, (_, i) => ({ email: `bulk${i % 700}@example.com`, event: i % 3 ? 'delivered' : 'processed', timestamp: 1700000000 + i, sg_event_id: `bulk-${i}`, sg_message_id: `BULK${i % 700}.f` }));
      const big = await startServer(dialect);
      try {
        const integration = (await big.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'bulk', signingKey: keys.publicKeyBase64 } })).body;
        const body = sendgridBatch(events);
        const direct = await fetch(big.url + new URL(integration.inboundWebhookUrl).pathname, { method: 'POST', headers: signSendgrid(keys.privateKey, body), body });
        expect(direct.status).toBe(200);
        expect((await direct.json()) as unknown[]).toHaveLength(3000);
        const page = await big.api('/v1/messages?limit=500');
        const total = await big.api('/v1/messages?limit=500&cursor=' + page.body.next);
        expect(page.body.data.length + total.body.data.length).toBe(700);
      } finally {
        await big.stop();
      }
    });

    it('rotates, removes and deletes: the inbound URL follows the integration as it is now', async () => {
      const created = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'rotating', signingKey: keys.publicKeyBase64 } })).body;
      const path = new URL(created.inboundWebhookUrl).pathname;
      const body = sendgridBatch([{ email: 'rot@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'rot1', sg_message_id: 'ROT.1' }]);
      const next = sendgridKeys();
      const rotated = await server.api(`/v1/integrations/${created.id}`, { method: 'PATCH', body: { signingKey: next.publicKeyBase64, name: 'rotated' } });
      expect(rotated.body).toMatchObject({ name: 'rotated', hasSigningKey: true });
      expect((await post(path, body, signSendgrid(keys.privateKey, body))).status).toBe(401);
      expect((await post(path, body, signSendgrid(next.privateKey, body))).status).toBe(200);

      const removed = await server.api(`/v1/integrations/${created.id}`, { method: 'PATCH', body: { signingKey: null } });
      expect(removed.body.hasSigningKey).toBe(false);
      expect((await post(path, body, { 'content-type': 'application/json' })).status).toBe(401);
      expect((await post(path, body, { 'content-type': 'application/json', authorization: `ApiKey ${server.apiKey}` })).status).toBe(200);
      expect((await server.api(`/v1/integrations/${created.id}`, { method: 'PATCH', body: { providerId: 'other' } })).status).toBe(400);

      expect((await server.api(`/v1/integrations/${created.id}`, { method: 'DELETE' })).status).toBe(204);
      const gone = await post(path, body, signSendgrid(next.privateKey, body));
      expect(gone.status).toBe(404);
      expect((await server.api(`/v1/integrations/${created.id}`)).status).toBe(404);
      // what it stored stays
      expect((await server.api('/v1/events?recipient=rot@example.com')).body.data).toHaveLength(1);
    });

    it('refuses times and limits it cannot read', async () => {
      expect((await server.api('/v1/messages?from=yesterday')).body.error.code).toBe('MT_ERR_VALIDATION');
      expect((await server.api('/v1/events?limit=0')).status).toBe(400);
      expect((await server.api('/v1/events?limit=501')).status).toBe(400);
      const windowed = await server.api('/v1/events?from=2017-12-15T00:59:29Z&to=2017-12-15T00:59:30Z');
      expect(windowed.status).toBe(200);
      expect(windowed.body.data.length).toBeGreaterThan(0);
      for (const stored of windowed.body.data) expect(stored.occurredAt).toBe('2017-12-15T00:59:29.000Z');
    });

    it('exports metrics and a valid OpenAPI 3.1 document', async () => {
      const metrics = await (await fetch(server.url + '/metrics')).text();
      expect(metrics).toMatch(/mailtrail_events_total\{provider="sendgrid",status="delivered"\} \d+/);
      expect(metrics).toMatch(/mailtrail_ignored_events_total\{provider="sendgrid"\} [1-9]/);
      expect(metrics).toMatch(/mailtrail_signature_failures_total\{provider="sendgrid",code="MT_ERR_SIGNATURE_INVALID"\} [1-9]/);
      expect(metrics).toMatch(/mailtrail_http_request_duration_seconds_bucket/);
      const document = await (await fetch(server.url + '/openapi.json')).json();
      const { Validator } = await import('@seriousme/openapi-schema-validator');
      const result = await new Validator().validate(document as never);
      expect(result.errors ?? []).toEqual([]);
      expect(result.valid).toBe(true);
      expect(Object.keys((document as any).paths)).toEqual(
        expect.arrayContaining(['/v2/inbound-webhooks/delivery-providers/{environmentId}/{integrationId}', '/v1/messages', '/v1/messages/{id}', '/v1/events', '/v1/integrations/{id}']),
      );
      expect((await fetch(server.url + '/readyz')).status).toBe(200);
    });
  });
}

function readWalIfAny(dataDir: string): string {
  try {
    return readFileSync(join(dataDir, 'mailtrail.db-wal')).toString('latin1');
  } catch {
    return '';
  }
}

/** Takes the events table away behind the server's back: a real storage failure, not a mock. */
async function renameEvents(server: TestServer, from: string, to: string): Promise<void> {
  const { location } = server.storage;
  if (location.databaseUrl) {
    const pg = (await import('pg')).default;
    const client = new pg.Client({ connectionString: location.databaseUrl });
    await client.connect();
    await client.query(`alter table ${location.schema}.${from} rename to ${to}`);
    await client.end();
  } else {
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(join(location.dataDir, 'mailtrail.db'));
    db.exec(`alter table ${from} rename to ${to}`);
    db.close();
  }
}
