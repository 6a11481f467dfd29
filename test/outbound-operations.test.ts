import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, receiver, until, type Receiver } from './helpers/receiver.js';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

interface DeliveryBody {
  id: string;
  eventId: string;
  eventType: string;
  status: string;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: operating the outbox`, () => {
    let server: TestServer;
    const keys = sendgridKeys();
    let integrationId: string;
    let sequence = 0;
    const receivers: Receiver[] = [];

    beforeAll(async () => {
      // ten attempts 300 ms apart: long enough for a receiver to come back up inside the schedule
      server = await startServer(dialect, { outbound: { allowPrivate: true, retrySchedule: [0, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3] } });
      integrationId = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } })).body.id;
    });
    afterAll(async () => {
      await server.stop();
      for (const hooks of receivers) await hooks.close();
    });

    /** One signed SendGrid batch of `events` (native types), each with its own message. */
    const send = async (...events: string[]) => {
      const body = sendgridBatch(
        events.map((event) => {
          sequence++;
          return { email: 'r@example.com', event, timestamp: 1795258800 + sequence, sg_event_id: `ops-${dialect}-${sequence}`, sg_message_id: `OPS${sequence}.x`, ...(event === 'bounce' ? { type: 'bounce' } : {}) };
        }),
      );
      const response = await server.inbound(integrationId, body, signSendgrid(keys.privateKey, body));
      expect(response.status).toBe(200);
    };
    const deliveriesOf = async (endpointId: string, query = ''): Promise<{ data: DeliveryBody[]; next: string | null }> =>
      (await server.api(`/v1/webhook-endpoints/${endpointId}/deliveries${query}`)).body;
    const settled = (endpointId: string, count: number) =>
      until(
        () => deliveriesOf(endpointId, '?limit=500').then((page) => page.data),
        (list) => list.length >= count && list.every((delivery) => delivery.status !== 'pending'),
      );

    it('delivers everything to a receiver that was down and comes back up, with the same webhook-id', async () => {
      const port = await freePort();
      const endpoint = (await server.api('/v1/webhook-endpoints', { body: { url: `http://127.0.0.1:${port}/back`, eventTypes: ['email.delivered'] } })).body;
      await send('delivered', 'delivered', 'delivered');
      // every delivery is refused at least once while nothing listens
      const failing = await until(
        () => deliveriesOf(endpoint.id).then((page) => page.data),
        (list) => list.length === 3 && list.every((delivery) => delivery.attempts >= 1),
      );
      expect(failing.map((delivery) => delivery.status)).toEqual(['pending', 'pending', 'pending']);
      expect(failing[0]!.lastError).toMatch(/ECONNREFUSED/);
      // a delivery still being retried cannot be sent again by hand
      const conflict = await server.api(`/v1/webhook-deliveries/${failing[0]!.id}/retry`, { method: 'POST' });
      expect(conflict.status).toBe(409);
      expect(conflict.body.error.code).toBe('MT_ERR_CONFLICT');

      const hooks = await receiver({ port });
      receivers.push(hooks);
      const done = await settled(endpoint.id, 3);
      expect(done.map((delivery) => delivery.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
      expect(hooks.requests).toHaveLength(3);
      // what arrived is each delivery once, under its own id, verifiable with the endpoint's secret
      expect(hooks.requests.map((request) => request.headers['webhook-id']).sort()).toEqual(done.map((delivery) => delivery.id).sort());
      for (const request of hooks.requests) expect(() => new Webhook(endpoint.secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();

      const detail = (await server.api(`/v1/webhook-deliveries/${done[0]!.id}`)).body;
      expect(detail.history.length).toBeGreaterThanOrEqual(2);
      expect(detail.history[0]).toMatchObject({ attempt: 1, statusCode: null, responseBody: null, error: expect.stringMatching(/ECONNREFUSED/) });
      expect(detail.history.at(-1)).toMatchObject({ attempt: detail.history.length, statusCode: 200, responseBody: 'answered 200', error: null });
    });

    it('sends a failed delivery again on retry, and every failed one since a time on recover', async () => {
      const hooks = await receiver();
      receivers.push(hooks);
      hooks.script.set('/later', Array(30).fill(500));
      const endpoint = (await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url}/later`, eventTypes: ['email.bounced'] } })).body;
      const before = new Date().toISOString();
      await send('bounce', 'bounce', 'bounce');
      const failed = await settled(endpoint.id, 3);
      expect(failed.map((delivery) => [delivery.status, delivery.attempts])).toEqual([
        ['failed', 10],
        ['failed', 10],
        ['failed', 10],
      ]);
      hooks.script.set('/later', []);

      // one by hand: due again at once, and sent with the same webhook-id
      const [first, ...rest] = failed;
      const retried = await server.api(`/v1/webhook-deliveries/${first!.id}/retry`, { method: 'POST' });
      expect(retried.status).toBe(202);
      const afterRetry = await until(
        () => server.api(`/v1/webhook-deliveries/${first!.id}`).then((response) => response.body),
        (delivery) => delivery.status !== 'pending',
      );
      expect(afterRetry).toMatchObject({ status: 'succeeded', attempts: 11, lastStatusCode: 200 });
      expect(hooks.requests.filter((request) => request.headers['webhook-id'] === first!.id)).toHaveLength(11);

      // the rest with recover: only failed deliveries created since the time given
      expect((await server.api(`/v1/webhook-endpoints/${endpoint.id}/recover`, { body: { since: new Date(Date.now() + 60_000).toISOString() } })).body).toEqual({ recovered: 0 });
      const recovered = await server.api(`/v1/webhook-endpoints/${endpoint.id}/recover`, { body: { since: before } });
      expect(recovered.status).toBe(202);
      expect(recovered.body).toEqual({ recovered: rest.length });
      const done = await settled(endpoint.id, 3);
      expect(done.every((delivery) => delivery.status === 'succeeded')).toBe(true);
      expect((await server.api(`/v1/webhook-endpoints/${endpoint.id}/recover`, { body: { since: 'yesterday' } })).body.error.code).toBe('MT_ERR_VALIDATION');
    });

    it('lists deliveries by status, event type and time, page by page', async () => {
      const hooks = await receiver();
      receivers.push(hooks);
      hooks.script.set('/listed', [500]);
      const endpoint = (await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url}/listed`, eventTypes: ['email.opened', 'email.clicked'] } })).body;
      await send('open');
      await settled(endpoint.id, 1);
      const between = Date.now() + 1;
      await new Promise((resolve) => setTimeout(resolve, 5));
      await send('open', 'click', 'click', 'open');
      const all = await settled(endpoint.id, 5);
      expect(all).toHaveLength(5);
      expect(all.map((delivery) => delivery.attempts)).toEqual([1, 1, 1, 1, 2]);

      expect((await deliveriesOf(endpoint.id, '?eventType=email.clicked')).data.map((delivery) => delivery.eventType)).toEqual(['email.clicked', 'email.clicked']);
      expect((await deliveriesOf(endpoint.id, '?status=failed')).data).toEqual([]);
      expect((await deliveriesOf(endpoint.id, '?status=succeeded')).data).toHaveLength(5);
      expect((await deliveriesOf(endpoint.id, `?to=${new Date(between).toISOString()}`)).data.map((delivery) => delivery.id)).toEqual([all.at(-1)!.id]);
      expect((await deliveriesOf(endpoint.id, `?from=${new Date(between).toISOString()}`)).data).toHaveLength(4);

      const seen: string[] = [];
      let cursor: string | null = '';
      while (cursor !== null) {
        const page: { data: DeliveryBody[]; next: string | null } = await deliveriesOf(endpoint.id, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(page.data.length).toBeLessThanOrEqual(2);
        seen.push(...page.data.map((delivery) => delivery.id));
        cursor = page.next;
      }
      expect(seen).toEqual(all.map((delivery) => delivery.id));
      expect((await server.api(`/v1/webhook-endpoints/${endpoint.id}/deliveries?status=lost`)).status).toBe(400);
    });

    it("keeps one environment's deliveries from another's key", async () => {
      const hooks = await receiver();
      receivers.push(hooks);
      const endpoint = (await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url}/mine`, eventTypes: ['email.dropped'] } })).body;
      await send('dropped');
      const [delivery] = await settled(endpoint.id, 1);
      const other = await server.mailtrail.createEnvironment('other');
      for (const [path, method] of [
        [`/v1/webhook-deliveries/${delivery!.id}`, 'GET'],
        [`/v1/webhook-deliveries/${delivery!.id}/retry`, 'POST'],
        [`/v1/webhook-endpoints/${endpoint.id}/deliveries`, 'GET'],
      ] as const) {
        const response = await server.api(path, { method, apiKey: other.apiKey });
        expect(response.status).toBe(404);
        expect(response.body.error.code).toBe('MT_ERR_NOT_FOUND');
      }
      const recover = await server.api(`/v1/webhook-endpoints/${endpoint.id}/recover`, { body: { since: '2020-01-01T00:00:00Z' }, apiKey: other.apiKey });
      expect(recover.status).toBe(404);
      expect(hooks.requests).toHaveLength(1);
    });
  });
}
