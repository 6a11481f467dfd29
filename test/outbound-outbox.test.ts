import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standardWebhooksKey } from '../src/providers/standard-webhooks.js';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

for (const dialect of DIALECTS) {
  describe(`${dialect}: outbound endpoints and the outbox`, () => {
    let server: TestServer;
    const keys = sendgridKeys();
    let integrationId: string;

    beforeAll(async () => {
      // the outbox alone: no worker takes the deliveries while the test looks at them
      server = await startServer(dialect, { outbound: { worker: false } });
      const created = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } });
      integrationId = created.body.id;
    });
    afterAll(async () => {
      await server.stop();
    });

    const postBatch = (events: Record<string, unknown>[]) => {
      const body = sendgridBatch(events);
      return server.inbound(integrationId, body, signSendgrid(keys.privateKey, body));
    };
    const deliveries = async (endpointId: string) => (await server.api(`/v1/webhook-endpoints/${endpointId}/deliveries`)).body.data as { eventType: string; eventId: string; status: string; attempts: number }[];

    it('creates an endpoint with a secret shown once, and refuses what it cannot send to', async () => {
      const created = await server.api('/v1/webhook-endpoints', { body: { url: 'https://hooks.example.com/mailtrail', description: 'CRM' } });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({ url: 'https://hooks.example.com/mailtrail', eventTypes: ['*'], enabled: true, secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/) });
      expect(Buffer.from(created.body.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
      const read = await server.api(`/v1/webhook-endpoints/${created.body.id}`);
      expect(read.body.secret).toBeUndefined();
      expect(JSON.stringify((await server.api('/v1/webhook-endpoints')).body)).not.toContain(created.body.secret);

      for (const body of [
        { url: 'ftp://hooks.example.com/' },
        { url: 'https://user:pass@hooks.example.com/' },
        { url: 'https://hooks.example.com/', eventTypes: ['email.exploded'] },
        { url: 'https://hooks.example.com/', eventTypes: [] },
        { url: 'https://hooks.example.com/', headers: { 'webhook-signature': 'v1,forged' } },
        { url: 'https://hooks.example.com/', headers: { 'x-ok': 'a\r\nb' } },
        { url: 'https://hooks.example.com/', headers: { 'x-ok': 'a\u0001b' } },
        { url: 'https://hooks.example.com/', headers: { 'x-ok': '€uro' } },
      ]) {
        const refused = await server.api('/v1/webhook-endpoints', { body });
        expect(refused.status, JSON.stringify(body)).toBe(400);
      }
      const other = await server.api(`/v1/webhook-endpoints/${created.body.id}`, { apiKey: (await server.mailtrail.createEnvironment('other')).apiKey });
      expect(other.status).toBe(404);
      expect((await server.api(`/v1/webhook-endpoints/${created.body.id}`, { method: 'DELETE' })).status).toBe(204);
    });

    it('writes one delivery per new event and subscribed endpoint in the ingest transaction, and none for a retry', async () => {
      const delivered = (await server.api('/v1/webhook-endpoints', { body: { url: 'https://a.example.com/', eventTypes: ['email.delivered'] } })).body;
      const failed = (await server.api('/v1/webhook-endpoints', { body: { url: 'https://b.example.com/', eventTypes: ['message.failed', 'email.bounced'] } })).body;
      const everything = (await server.api('/v1/webhook-endpoints', { body: { url: 'https://c.example.com/', eventTypes: ['*'] } })).body;
      const disabled = (await server.api('/v1/webhook-endpoints', { body: { url: 'https://d.example.com/', enabled: false } })).body;

      const events = [
        { email: 'o@example.com', event: 'delivered', timestamp: 1795258800, sg_event_id: 'ob-1', sg_message_id: 'OB1.x' },
        { email: 'o@example.com', event: 'bounce', type: 'bounce', timestamp: 1795258900, sg_event_id: 'ob-2', sg_message_id: 'OB1.x' },
        { email: 'o@example.com', event: 'group_resubscribe', timestamp: 1795259000, sg_event_id: 'ob-3', sg_message_id: 'OB1.x' },
      ];
      const first = await postBatch(events);
      expect(first.status).toBe(200);
      const [deliveredEvent, bouncedEvent] = first.body as { id: string }[];

      expect(await deliveries(delivered.id)).toEqual([expect.objectContaining({ eventType: 'email.delivered', eventId: deliveredEvent!.id, status: 'pending', attempts: 0 })]);
      expect(await deliveries(failed.id)).toEqual([expect.objectContaining({ eventType: 'email.bounced', eventId: bouncedEvent!.id })]);
      expect((await deliveries(everything.id)).map((delivery) => delivery.eventType).sort()).toEqual(['email.bounced', 'email.delivered']);
      expect(await deliveries(disabled.id)).toEqual([]);

      expect((await postBatch(events)).body).toEqual(first.body);
      expect(await deliveries(everything.id)).toHaveLength(2);

      const byType = await server.api(`/v1/webhook-endpoints/${everything.id}/deliveries?eventType=email.bounced&status=pending`);
      expect(byType.body.data).toHaveLength(1);
    });

    it('rotates a secret, keeping the old one for the grace period, or not at all', async () => {
      const endpoint = (await server.api('/v1/webhook-endpoints', { body: { url: 'https://f.example.com/' } })).body;
      const before = Date.now();
      const rotated = await server.api(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { method: 'POST' });
      expect(rotated.body.secret).toMatch(/^whsec_/);
      expect(rotated.body.secret).not.toBe(endpoint.secret);
      const expires = Date.parse(rotated.body.previousSecretExpiresAt);
      expect(expires - before).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
      expect(expires - before).toBeLessThanOrEqual(24 * 3600_000 + 60_000);
      const signing = server.mailtrail.endpoints.signingKeys(await server.mailtrail.endpoints.get(server.environmentId, endpoint.id), Date.now());
      expect(signing).toEqual([standardWebhooksKey(rotated.body.secret), standardWebhooksKey(endpoint.secret)]);
      const immediate = await server.api(`/v1/webhook-endpoints/${endpoint.id}/rotate-secret`, { body: { graceSeconds: 0 } });
      expect(immediate.body.previousSecretExpiresAt).toBeNull();
      expect(server.mailtrail.endpoints.signingKeys(await server.mailtrail.endpoints.get(server.environmentId, endpoint.id), Date.now())).toEqual([standardWebhooksKey(immediate.body.secret)]);
    });

    it('drops the pending deliveries of a deleted endpoint', async () => {
      const endpoint = (await server.api('/v1/webhook-endpoints', { body: { url: 'https://g.example.com/' } })).body;
      await postBatch([{ email: 'p@example.com', event: 'delivered', timestamp: 1795258800, sg_event_id: 'ob-9', sg_message_id: 'OB9.x' }]);
      expect(await deliveries(endpoint.id)).toHaveLength(1);
      expect((await server.api(`/v1/webhook-endpoints/${endpoint.id}`, { method: 'DELETE' })).status).toBe(204);
      const rows = await server.storage.store.listDeliveries(server.environmentId, endpoint.id, { limit: 10 });
      expect(rows.data).toEqual([]);
    });
  });
}
