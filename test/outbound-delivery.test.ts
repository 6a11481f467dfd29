import { Webhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { MailtrailError, verifyWebhook } from '../src/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { receiver, until, type Receiver } from './helpers/receiver.js';
import { DIALECTS } from './helpers/stores.js';

for (const dialect of DIALECTS) {
  describe(`${dialect}: outbound webhooks reach real receivers`, () => {
    let server: TestServer;
    let hooks: Receiver;
    const keys = sendgridKeys();
    let integrationId: string;
    let sequence = 0;

    beforeAll(async () => {
      hooks = await receiver();
      // loopback receivers need the operator's allowance; a short schedule keeps retries inside the test
      server = await startServer(dialect, { outbound: { allowPrivate: true, retrySchedule: [0, 0.1, 0.1, 0.1] } });
      integrationId = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } })).body.id;
    });
    afterAll(async () => {
      await server.stop();
      await hooks.close();
    });

    const send = async (event: string, extra: Record<string, unknown> = {}) => {
      sequence++;
      const body = sendgridBatch([{ email: 'r@example.com', event, timestamp: 1795258800 + sequence, sg_event_id: `out-${dialect}-${sequence}`, sg_message_id: `OUT${sequence}.x`, ...extra }]);
      const response = await server.inbound(integrationId, body, signSendgrid(keys.privateKey, body));
      expect(response.status).toBe(200);
      return response.body[0].id as string;
    };
    const endpoint = async (path: string, eventTypes = ['*']) => (await server.api('/v1/webhook-endpoints', { body: { url: hooks.url + path, eventTypes } })).body;
    const deliveriesOf = (endpointId: string) => server.api(`/v1/webhook-endpoints/${endpointId}/deliveries`).then((response) => response.body.data as { id: string; status: string; attempts: number; lastStatusCode: number | null; lastError: string | null }[]);
    const settled = (endpointId: string, count = 1) => until(() => deliveriesOf(endpointId), (list) => list.length >= count && list.every((delivery) => delivery.status !== 'pending'));

    it('signs each event the Standard Webhooks way, with the event and its message, only to subscribed endpoints', async () => {
      const subscribed = await endpoint('/delivered', ['email.delivered']);
      const other = await endpoint('/opens', ['message.seen']);
      const eventId = await send('delivered');
      const [delivery] = await settled(subscribed.id);
      expect(delivery).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200 });
      const received = hooks.requests.filter((request) => request.path === '/delivered');
      expect(received).toHaveLength(1);
      const request = received[0]!;
      expect(request.headers['webhook-id']).toBe(delivery!.id);
      expect(request.headers['mailtrail-attempt']).toBe('1');
      expect(request.headers['content-type']).toBe('application/json');
      const payload = new Webhook(subscribed.secret).verify(request.body, request.headers as Record<string, string>) as { type: string; timestamp: string; data: { event: { id: string }; message: { state: { status: string } } } };
      expect(payload).toMatchObject({ type: 'email.delivered', timestamp: new Date((1795258800 + sequence) * 1000).toISOString(), data: { event: { id: eventId }, message: { state: { status: 'delivered' } } } });
      expect(() => new Webhook(other.secret).verify(request.body, request.headers as Record<string, string>)).toThrow();
      // the svix package and this package's own helper accept it too
      expect(() => new SvixWebhook(subscribed.secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
      expect(() => new SvixWebhook(other.secret).verify(request.body, request.headers as Record<string, string>)).toThrow();
      expect(verifyWebhook(subscribed.secret, request.headers, request.body)).toEqual(JSON.parse(request.body));
      expect(() => verifyWebhook(other.secret, request.headers, request.body)).toThrow(MailtrailError);
      expect(await deliveriesOf(other.id)).toEqual([]);
      expect(hooks.requests.filter((r) => r.path === '/opens')).toHaveLength(0);
    });

    it('retries a failing receiver with the same webhook-id until it answers 2xx, recording every attempt', async () => {
      const flaky = await endpoint('/flaky', ['email.opened']);
      hooks.script.set('/flaky', [500, 503]);
      await send('open');
      const [delivery] = await settled(flaky.id);
      expect(delivery).toMatchObject({ status: 'succeeded', attempts: 3 });
      const received = hooks.requests.filter((request) => request.path === '/flaky');
      expect(received.map((request) => request.headers['mailtrail-attempt'])).toEqual(['1', '2', '3']);
      expect(new Set(received.map((request) => request.headers['webhook-id']))).toEqual(new Set([delivery!.id]));
      const detail = await server.api(`/v1/webhook-deliveries/${delivery!.id}`);
      expect(detail.body.history.map((attempt: { statusCode: number }) => attempt.statusCode)).toEqual([500, 503, 200]);
      expect(detail.body.history[0].responseBody).toBe('answered 500');
    });

    it('records an answer holding a NUL, on every database', async () => {
      const nul = await endpoint('/nul', ['email.unsubscribed']);
      await send('unsubscribe');
      const [delivery] = await settled(nul.id);
      expect(delivery).toMatchObject({ status: 'succeeded', attempts: 1 });
      const detail = await server.api(`/v1/webhook-deliveries/${delivery!.id}`);
      expect(detail.body.history[0].responseBody).toBe('ok with a NUL');
    });

    it('gives up after the last attempt of the schedule', async () => {
      const down = await endpoint('/down', ['email.clicked']);
      hooks.script.set('/down', [500, 500, 500, 500, 500]);
      await send('click', { url: 'https://example.com/' });
      const [delivery] = await settled(down.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 4, lastStatusCode: 500, lastError: 'HTTP 500' });
    });

    it('disables an endpoint that answers 410', async () => {
      const gone = await endpoint('/gone', ['email.bounced']);
      hooks.script.set('/gone', [410]);
      await send('bounce', { type: 'bounce' });
      const [delivery] = await settled(gone.id);
      expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: 410 });
      const after = await server.api(`/v1/webhook-endpoints/${gone.id}`);
      expect(after.body).toMatchObject({ enabled: false, disabledReason: 'the endpoint answered 410 Gone' });
    });

    it("spaces an endpoint's requests by its rate limit", async () => {
      const limited = (await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url}/limited`, eventTypes: ['email.delayed'], rateLimit: 5 } })).body;
      // one batch of four events: the four deliveries are due at once
      sequence++;
      const events = Array.from({ length: 4 }, (_, i) => ({ email: 'r@example.com', event: 'deferred', timestamp: 1795258800 + i, sg_event_id: `limited-${dialect}-${i}`, sg_message_id: `LIM${i}.x` }));
      const body = sendgridBatch(events);
      expect((await server.inbound(integrationId, body, signSendgrid(keys.privateKey, body))).status).toBe(200);
      await settled(limited.id, 4);
      const arrivals = hooks.requests.filter((request) => request.path === '/limited').map((request) => request.at);
      expect(arrivals).toHaveLength(4);
      // 5 per second: each request starts at least ~200 ms after the one before
      for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(180);
    });

    it('sends a signed test event on request, and reports the queue on /metrics', async () => {
      const tested = await endpoint('/tested', ['email.sent']);
      const answer = await server.api(`/v1/webhook-endpoints/${tested.id}/test`, { method: 'POST' });
      expect(answer.body).toMatchObject({ ok: true, statusCode: 200, error: null });
      const request = hooks.requests.find((r) => r.path === '/tested')!;
      expect(new Webhook(tested.secret).verify(request.body, request.headers as Record<string, string>)).toMatchObject({ type: 'webhook.test' });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toMatch(/^mailtrail_webhook_queue_depth \d+$/m);
      expect(metrics).toMatch(/^mailtrail_webhook_oldest_due_seconds [\d.]+$/m);
      expect(metrics).toMatch(/^mailtrail_webhook_attempts_total\{result="succeeded"\} [1-9]\d*$/m);
    });

    it('signs with both secrets during a rotation, each verifying on its own', async () => {
      const rotating = await endpoint('/rotating', ['email.dropped']);
      const rotated = (await server.api(`/v1/webhook-endpoints/${rotating.id}/rotate-secret`, { method: 'POST' })).body;
      await send('dropped', { reason: 'Bounced Address' });
      await settled(rotating.id);
      const request = hooks.requests.find((r) => r.path === '/rotating')!;
      expect(String(request.headers['webhook-signature']).split(' ')).toHaveLength(2);
      for (const secret of [rotating.secret, rotated.secret]) expect(() => new Webhook(secret).verify(request.body, request.headers as Record<string, string>)).not.toThrow();
    });
  });
}

describe('outbound webhooks without the private-address allowance', () => {
  it('refuses loopback and records why, without connecting', async () => {
    const hooks = await receiver();
    const server = await startServer('sqlite');
    try {
      const keys = sendgridKeys();
      const integrationId = (await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } })).body.id;
      const byAddress = (await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url}/ssrf` } })).body;
      const byName = (await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url.replace('127.0.0.1', 'localhost')}/ssrf` } })).body;
      const mapped = (await server.api('/v1/webhook-endpoints', { body: { url: `http://[::ffff:127.0.0.1]:${new URL(hooks.url).port}/ssrf` } })).body;
      const body = sendgridBatch([{ email: 's@example.com', event: 'delivered', timestamp: 1795258800, sg_event_id: 'ssrf-1', sg_message_id: 'SSRF.x' }]);
      expect((await server.inbound(integrationId, body, signSendgrid(keys.privateKey, body))).status).toBe(200);
      for (const endpoint of [byAddress, byName, mapped]) {
        const [delivery] = await until(
          () => server.api(`/v1/webhook-endpoints/${endpoint.id}/deliveries`).then((response) => response.body.data),
          (list: { status: string }[]) => list.length > 0 && list[0]!.status !== 'pending',
        );
        expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: null, lastError: expect.stringMatching(/^refused to connect to (127\.0\.0\.1|::1|::ffff:7f00:1): a private, loopback/) });
      }
      expect(hooks.requests).toEqual([]);
    } finally {
      await server.stop();
      await hooks.close();
    }
  });
});
