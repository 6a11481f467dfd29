import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Mailtrail } from '../src/index.js';
import { RESEND_SECRET, signMandrill, signResend } from './helpers/signers.js';
import { EMBEDDED_PUBLIC_URL as PUBLIC_URL, startEmbedded } from './helpers/embedded.js';
import type { TestStore } from './helpers/stores.js';

// An Express app whose body parsers run before Mailtrail: the stream is gone by the time Mailtrail sees the request.
// Without the exact bytes it answers a clear error (never a hang, never a check over re-serialized JSON); with
// them (req.rawBody, or the Buffer of express.raw()) it works.

const MANDRILL_KEY = 'mandrill-webhook-key-0123456789';

type Setup = (app: express.Express) => void;
/** Express 4 (body-parser 1, which marks a request it has read with `_body`), installed beside Express 5. */
const express4 = createRequire(import.meta.url)('express4') as typeof express;

let svixCounter = 0;
function resendOpened(emailId: string): { body: string; headers: Record<string, string> } {
  // spaces and key order a re-serialization would not keep
  const body = `{ "type": "email.opened", "created_at": "2026-11-21T10:05:00.000Z", "data": { "to": ["ana@example.com"], "email_id": "${emailId}" } }`;
  return { body, headers: signResend(body, `msg_svix_parsers_${++svixCounter}`) };
}

describe('Express with body parsers mounted before Mailtrail', () => {
  let storage: TestStore;
  let mailtrail: Mailtrail;
  let apiKey: string;
  let environmentId: string;
  const servers: Server[] = [];

  beforeAll(async () => {
    ({ mailtrail, storage, apiKey, environmentId } = await startEmbedded({ resend: { signingKey: RESEND_SECRET }, mandrill: { signingKey: MANDRILL_KEY } }));
  });
  afterAll(async () => {
    for (const server of servers) server.closeAllConnections();
    await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
    await mailtrail.close();
    await storage.cleanup();
  });

  async function start(setup: Setup, framework = express): Promise<string> {
    const app = framework();
    setup(app);
    app.use('/api', mailtrail.middleware());
    const server = createServer(app);
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const post = async (url: string, headers: Record<string, string>, body: string) => {
    const response = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('express.json() first: a webhook and a management API write answer 500 MT_ERR_BODY_CONSUMED, saying what to do', async () => {
    const base = await start((app) => app.use(express.json()));
    const signed = resendOpened('re_consumed');
    const refused = await post(`${base}/api/track/webhook/resend`, signed.headers, signed.body);
    expect(refused.status).toBe(500);
    expect(refused.body.error.code).toBe('MT_ERR_BODY_CONSUMED');
    expect(refused.body.error.message).toContain('mount Mailtrail before');
    expect(refused.body.error.message).toContain('req.rawBody');
    const write = await post(`${base}/api/v1/webhook-endpoints`, { authorization: `ApiKey ${apiKey}`, 'content-type': 'application/json' }, '{"url":"https://crm.example.com/x"}');
    expect(write).toMatchObject({ status: 500, body: { error: { code: 'MT_ERR_BODY_CONSUMED' } } });
    // nothing was stored from the refused webhook, and requests without a body still work
    const feed = await fetch(`${base}/api/v1/messages?providerMessageId=re_consumed`, { headers: { authorization: `ApiKey ${apiKey}` } });
    expect(feed.status).toBe(200);
    expect(((await feed.json()) as { data: unknown[] }).data).toEqual([]);
  });

  it('Express 4: express.json() first is refused the same way, and works with req.rawBody kept', async () => {
    const consumed = await start((app) => app.use(express4.json()), express4);
    const signed = resendOpened('re_express4');
    expect(await post(`${consumed}/api/track/webhook/resend`, signed.headers, signed.body)).toMatchObject({ status: 500, body: { error: { code: 'MT_ERR_BODY_CONSUMED' } } });
    const kept = await start((app) => {
      app.use(
        express4.json({
          verify: (req, _res, buffer) => {
            (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buffer;
          },
        }),
      );
    }, express4);
    expect(await post(`${kept}/api/track/webhook/resend`, signed.headers, signed.body)).toMatchObject({ status: 200, body: [{ event: { externalId: 're_express4' } }] });
  });

  it('express.urlencoded() first: a Mandrill form is refused the same way', async () => {
    const base = await start((app) => app.use(express.urlencoded({ extended: false })));
    const form = new URLSearchParams({ mandrill_events: '[]' }).toString();
    const url = `${PUBLIC_URL}/track/webhook/mandrill`;
    const refused = await post(`${base}/api/track/webhook/mandrill`, { 'content-type': 'application/x-www-form-urlencoded', 'x-mandrill-signature': signMandrill(url, form, MANDRILL_KEY) }, form);
    expect(refused).toMatchObject({ status: 500, body: { error: { code: 'MT_ERR_BODY_CONSUMED' } } });

    // a one-click unsubscribe too: a 400 would tell the mailbox provider not to try again, and the opt-out is lost
    const { headers: emailHeaders } = mailtrail.instrument({ messageId: 'msg_unsubscribe_consumed', environmentId, html: '<p>hi</p>' });
    const unsubscribeUrl = /<([^>]+)>/.exec(emailHeaders['List-Unsubscribe'] ?? '')![1]!;
    const oneClick = await fetch(`${base}/api${unsubscribeUrl.slice(PUBLIC_URL.length)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(oneClick.status).toBe(500);
    expect(((await oneClick.json()) as { error: { code: string } }).error.code).toBe('MT_ERR_BODY_CONSUMED');
  });

  it('express.json({ verify }) keeping req.rawBody: the signature is checked over the exact bytes and the event stored', async () => {
    const keepRaw = (req: IncomingMessage, _res: unknown, buffer: Buffer) => {
      (req as IncomingMessage & { rawBody?: Buffer }).rawBody = buffer;
    };
    const base = await start((app) => {
      app.use(express.json({ verify: keepRaw }));
      app.use(express.urlencoded({ extended: false, verify: keepRaw }));
    });
    const signed = resendOpened('re_verify');
    const accepted = await post(`${base}/api/track/webhook/resend`, signed.headers, signed.body);
    expect(accepted).toMatchObject({ status: 200, body: [{ event: { status: 'opened', externalId: 're_verify' } }] });
    const tampered = await post(`${base}/api/track/webhook/resend`, signed.headers, signed.body.replace('opened', 'clicked'));
    expect(tampered.status).toBe(401);
    // the management API reads the kept bytes too
    const write = await post(`${base}/api/v1/webhook-endpoints`, { authorization: `ApiKey ${apiKey}`, 'content-type': 'application/json' }, '{"url":"https://crm.example.com/verify"}');
    expect(write).toMatchObject({ status: 201, body: { url: 'https://crm.example.com/verify' } });
    // Mandrill signs the URL it was given: PUBLIC_URL (with the mount prefix) and the alias path
    const events = JSON.stringify([{ event: 'send', _id: 'md-verify', ts: 1795258800, msg: { _id: 'md-verify', email: 'gus@example.com', metadata: {} } }]);
    const form = new URLSearchParams({ mandrill_events: events }).toString();
    const headers = (url: string) => ({ 'content-type': 'application/x-www-form-urlencoded', 'x-mandrill-signature': signMandrill(url, form, MANDRILL_KEY) });
    expect((await post(`${base}/api/track/webhook/mandrill`, headers(`${base}/api/track/webhook/mandrill`), form)).status).toBe(401);
    const mandrill = await post(`${base}/api/track/webhook/mandrill`, headers(`${PUBLIC_URL}/track/webhook/mandrill`), form);
    expect(mandrill).toMatchObject({ status: 200, body: [{ event: { status: 'sent', externalId: 'md-verify' } }] });
    // a one-click unsubscribe (RFC 8058) is a form POST too: it reads the kept bytes
    const { headers: emailHeaders } = mailtrail.instrument({ messageId: 'msg_unsubscribe_verify', environmentId, html: '<p>hi</p>' });
    const unsubscribeUrl = /<([^>]+)>/.exec(emailHeaders['List-Unsubscribe'] ?? '')![1]!;
    expect(unsubscribeUrl.startsWith(`${PUBLIC_URL}/track/unsubscribe/`)).toBe(true);
    const unsubscribed = await fetch(`${base}/api${unsubscribeUrl.slice(PUBLIC_URL.length)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(unsubscribed.status).toBe(200);
  });

  it('express.raw() first: the Buffer in req.body is the body', async () => {
    const base = await start((app) => app.use(express.raw({ type: '*/*' })));
    const signed = resendOpened('re_raw');
    expect(await post(`${base}/api/track/webhook/resend`, signed.headers, signed.body)).toMatchObject({ status: 200, body: [{ event: { externalId: 're_raw' } }] });
  });

  it('express.text() first: the UTF-8 string in req.body is the body', async () => {
    const base = await start((app) => app.use(express.text({ type: 'application/json' })));
    const signed = resendOpened('re_text_é');
    expect(await post(`${base}/api/track/webhook/resend`, signed.headers, signed.body)).toMatchObject({ status: 200, body: [{ event: { externalId: 're_text_é' } }] });
  });

  it('a kept body over the body limit is refused with 413, as a streamed one is', async () => {
    const base = await start((app) => app.use(express.raw({ type: '*/*', limit: '20mb' })));
    const body = JSON.stringify({ type: 'email.opened', padding: 'x'.repeat(11 * 1024 * 1024) });
    const refused = await post(`${base}/api/track/webhook/resend`, signResend(body, 'msg_svix_big'), body);
    expect(refused).toMatchObject({ status: 413, body: { error: { code: 'MT_ERR_BODY_TOO_LARGE' } } });
  });
});
