import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { receiver, until, type Receiver } from './helpers/receiver.js';
import { startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

// First-party opens and clicks reach the team's own systems like provider events: signed outbound webhooks, with
// the machine verdict of each hit in the payload.
const CURL = { 'user-agent': 'curl/8.5.0', accept: '*/*' };
const BROWSER = {
  'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'accept-language': 'en-GB,en;q=0.9',
};

interface Payload {
  type: string;
  data: { event: { status: string; machine: boolean; machineKind: string | null; url: string | null; messageId: string }; message: { id: string } };
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: outbound webhooks for first-party hits`, () => {
    let server: TestServer;
    let hooks: Receiver;
    beforeAll(async () => {
      [server, hooks] = await Promise.all([startServer(dialect, { outbound: { allowPrivate: true } }), receiver()]);
    });
    afterAll(async () => {
      await server?.stop();
      await hooks?.close();
    });

    it('posts email.opened and email.clicked for hits, machine or person, with their verdicts', async () => {
      await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url}/hits`, eventTypes: ['email.opened', 'email.clicked'] } });
      const integrationId = (await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'own code' } })).body.id;
      const registered = await server.api('/v1/messages', {
        body: { integrationId, id: 'out-1', to: 'ada@example.com', html: '<p><a href="https://shop.example.com/orders/1?a=1&amp;b=2">Order</a></p>' },
      });
      const local = (kind: string) => server.url + new RegExp(`https://mailtrail\\.example\\.com(/track/${kind}/[\\w-]+)`).exec(registered.body.html as string)![1]!;

      // a script fetching both at once: machines
      expect((await fetch(local('open'), { headers: CURL })).status).toBe(200);
      expect((await fetch(local('click'), { headers: CURL, redirect: 'manual' })).status).toBe(302);
      // a person, later than anyone could prefetch
      await new Promise((resolve) => setTimeout(resolve, 2_100));
      expect((await fetch(local('click'), { headers: BROWSER, redirect: 'manual' })).status).toBe(302);

      const received = await until(
        async () => hooks.requests.filter((request) => request.path === '/hits').map((request) => JSON.parse(request.body) as Payload),
        (payloads) => payloads.length >= 3,
      );
      const summary = received.map(({ type, data }) => [type, data.event.machine, data.event.machineKind, data.event.url, data.message.id]);
      expect(summary).toEqual(
        expect.arrayContaining([
          ['email.opened', true, 'bot', null, 'out-1'],
          ['email.clicked', true, 'bot', 'https://shop.example.com/orders/1?a=1&b=2', 'out-1'],
          ['email.clicked', false, null, 'https://shop.example.com/orders/1?a=1&b=2', 'out-1'],
        ]),
      );
      expect(received).toHaveLength(3);
    });
  });
}
