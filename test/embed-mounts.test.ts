import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import connect from 'connect';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailtrail } from '../src/index.js';
import { RESEND_SECRET, signResend } from './helpers/signers.js';
import { EMBEDDED_PUBLIC_URL as PUBLIC_URL, startEmbedded } from './helpers/embedded.js';
import type { TestStore } from './helpers/stores.js';

// Mailtrail mounted under /api in real Express 5, connect, Fastify 5, Hono and node:http servers, over a loopback
// socket: the management API, an inbound URL, the /track/webhook alias, and a request outside Mailtrail's routes.


interface Mounted {
  url: string;
  close(): Promise<void>;
}

const listening = (server: Server): Promise<Mounted> =>
  new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });

let svixCounter = 0;
/** A Resend delivered event for `emailId`, signed as Svix signs it (a fresh Svix id each time). */
function resendDelivered(emailId: string, to = 'ana@example.com'): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ type: 'email.delivered', created_at: '2026-11-21T10:00:00.000Z', data: { email_id: emailId, to: [to] } });
  return { body, headers: signResend(body, `msg_svix_mount_${++svixCounter}`) };
}

/** Express 4, installed beside Express 5 under another name; its API is the same for what is used here. */
const express4 = createRequire(import.meta.url)('express4') as typeof express;

/** An Express app with Mailtrail under /api; the host's own JSON route, after Mailtrail, keeps its parser. */
function expressMount(framework: typeof express): (mailtrail: Mailtrail) => Promise<Mounted> {
  return (mailtrail) => {
    const app = framework();
    app.use('/api', mailtrail.middleware());
    app.post('/echo', framework.json(), (req, res) => void res.json(req.body));
    return listening(createServer(app));
  };
}

const MOUNTS: [string, (mailtrail: Mailtrail) => Promise<Mounted>][] = [
  ['Express 4', expressMount(express4)],
  ['Express 5', expressMount(express)],
  [
    'connect',
    (mailtrail) => {
      const app = connect();
      app.use('/api', mailtrail.middleware());
      return listening(createServer(app));
    },
  ],
  [
    'Fastify 5',
    async (mailtrail) => {
      const app = Fastify();
      await app.register(mailtrail.fastifyPlugin, { prefix: '/api' });
      // outside the plugin, Fastify still parses JSON: the plugin's parsers are its own
      app.post('/echo', async (request) => request.body);
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
    },
  ],
  [
    'Hono',
    (mailtrail) =>
      new Promise((resolve) => {
        const app = new Hono();
        app.route('/api', mailtrail.app);
        app.post('/echo', async (c) => c.json(await c.req.json()));
        const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
          resolve({
            url: `http://127.0.0.1:${info.port}`,
            close: () => new Promise((done) => server.close(() => done())),
          });
        });
      }),
  ],
  ['node:http with a prefix', (mailtrail) => listening(createServer(mailtrail.nodeHandler({ prefix: '/api' })))],
];

describe('Mailtrail mounted under /api', () => {
  let storage: TestStore;
  let mailtrail: Mailtrail;
  let environmentId: string;
  let apiKey: string;
  let resendId: string;

  beforeAll(async () => {
    ({ mailtrail, storage, environmentId, apiKey } = await startEmbedded({ resend: { signingKey: RESEND_SECRET } }));
    resendId = (await mailtrail.integrations.list(environmentId)).find((integration) => integration.provider === 'resend')!.id;
  });
  afterAll(async () => {
    await mailtrail.close();
    await storage.cleanup();
  });

  for (const [name, mount] of MOUNTS) {
    describe(name, () => {
      let server: Mounted;
      const call = async (path: string, init: RequestInit = {}) => {
        const response = await fetch(server.url + path, init);
        const text = await response.text();
        const json = response.headers.get('content-type')?.includes('json') && text !== '';
        return { status: response.status, body: json ? JSON.parse(text) : text, headers: response.headers };
      };
      const auth = () => ({ authorization: `ApiKey ${apiKey}` });
      beforeAll(async () => {
        server = await mount(mailtrail);
      });
      afterAll(() => server.close());

      it('serves the management API, reading JSON bodies', async () => {
        expect(await call('/api/healthz')).toMatchObject({ status: 200, body: { status: 'ok' } });
        const integrations = await call('/api/v1/integrations', { headers: auth() });
        expect(integrations.status).toBe(200);
        expect(integrations.body.data.map((integration: { id: string }) => integration.id)).toContain(resendId);
        const created = await call('/api/v1/webhook-endpoints', {
          method: 'POST',
          headers: { ...auth(), 'content-type': 'application/json' },
          body: JSON.stringify({ url: `https://crm.example.com/${name.replace(/\W/g, '-')}`, eventTypes: ['email.delivered'] }),
        });
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({ url: expect.stringContaining('crm.example.com'), eventTypes: ['email.delivered'] });
      });

      it('takes a signed webhook at its inbound URL and at /track/webhook/resend, both under the prefix', async () => {
        const tag = name.replace(/\W/g, '');
        const direct = resendDelivered(`re_direct_${tag}`);
        const atInbound = await call(`/api/v2/inbound-webhooks/delivery-providers/${environmentId}/${resendId}`, { method: 'POST', headers: direct.headers, body: direct.body });
        expect(atInbound).toMatchObject({ status: 200, body: [{ event: { status: 'delivered', externalId: `re_direct_${tag}` } }] });
        const aliased = resendDelivered(`re_alias_${tag}`);
        const atAlias = await call('/api/track/webhook/resend', { method: 'POST', headers: aliased.headers, body: aliased.body });
        expect(atAlias).toMatchObject({ status: 200, body: [{ event: { status: 'delivered', externalId: `re_alias_${tag}` } }] });
        const feed = await call(`/api/v1/messages?providerMessageId=re_alias_${tag}`, { headers: auth() });
        expect(feed.body.data).toMatchObject([{ integrationId: resendId, state: { status: 'delivered' } }]);
        // a tampered body is refused the same way at the alias
        const tampered = await call('/api/track/webhook/resend', { method: 'POST', headers: aliased.headers, body: aliased.body.replace('delivered', 'bounced') });
        expect(tampered.status).toBe(401);
      });

      it("answers paths of its own with Mailtrail's errors, and leaves the host's routes alone", async () => {
        const missing = await call('/api/track/webhook/sendgrid', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
        expect(missing).toMatchObject({ status: 404, body: { error: { code: 'MT_ERR_INTEGRATION_NOT_FOUND' } } });
        expect(await call('/api/v1/integrations')).toMatchObject({ status: 401, body: { error: { code: 'MT_ERR_UNAUTHORIZED' } } });
        if (name.startsWith('node:http')) return;
        // under Hono the host app's own 404 answers: a mounted app's routes are merged into the host's
        const nowhere = await call('/api/no/such/route');
        expect(nowhere.status).toBe(404);
        if (name === 'connect') return;
        const echo = await call('/echo', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"host":"app"}' });
        expect(echo).toMatchObject({ status: 200, body: { host: 'app' } });
      });

      it('serves the open pixel and the click redirect of an instrumented message under the prefix, at URLs built from publicUrl', async () => {
        const messageId = `msg_mounted_${name.replace(/\W/g, '')}`;
        const { html } = mailtrail.instrument({
          messageId,
          environmentId,
          html: '<html><body><a href="https://shop.example.com/orders/1?a=1&amp;b=2">Your order</a></body></html>',
        });
        // the prefix comes from publicUrl, never from the request that happened to mount it
        const urls = [...html!.matchAll(/"(https:\/\/[^"]+\/track\/(?:open|click)\/[^"]+)"/g)].map((match) => match[1]!);
        expect(urls).toHaveLength(2);
        for (const url of urls) expect(url.startsWith(`${PUBLIC_URL}/track/`)).toBe(true);
        const local = (url: string) => `${server.url}/api${url.slice(PUBLIC_URL.length)}`;
        const click = await fetch(local(urls.find((url) => url.includes('/track/click/'))!), { redirect: 'manual' });
        expect(click.status).toBe(302);
        expect(click.headers.get('location')).toBe('https://shop.example.com/orders/1?a=1&b=2');
        const pixel = await fetch(local(urls.find((url) => url.includes('/track/open/'))!));
        expect(pixel.status).toBe(200);
        expect(pixel.headers.get('content-type')).toBe('image/gif');
        expect((await pixel.arrayBuffer()).byteLength).toBe(43);
        const tampered = await fetch(`${server.url}/api/track/open/AAAA`);
        expect(tampered.status).toBe(404);
        // both hits went through the ingest path of the instance the host mounted (the answer waits for the commit
        // a quarter of a second at most, so a loaded machine may store them just after)
        const statuses = async () => {
          const message = await call(`/api/v1/messages/${messageId}`, { headers: auth() });
          return message.status === 200 ? (message.body.timeline as { status: string }[]).map((event) => event.status).sort() : [];
        };
        await expect.poll(statuses, { timeout: 5_000 }).toEqual(['clicked', 'opened']);
      });
    });
  }

  it('node:http: mailtrail.handler serves the app at the root', async () => {
    const server = await listening(createServer(mailtrail.handler));
    try {
      const signed = resendDelivered('re_root_handler');
      const response = await fetch(`${server.url}/track/webhook/resend`, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject([{ event: { externalId: 're_root_handler' } }]);
    } finally {
      await server.close();
    }
  });
});
