import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instrumentHtml, instrumentText } from '../src/engagement/instrument.js';
import { TrackingTokens } from '../src/engagement/tokens.js';
import { TRANSPARENT_GIF } from '../src/http/routes/tracking.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

// Published email HTML, read where it lives (../shared/email-html/ beside the project, SOURCES.md there).
const DIRECTORY = new URL('../../shared/email-html/', import.meta.url);
const FILES = readdirSync(DIRECTORY).filter((name) => name.endsWith('.html')).sort();
const read = (name: string) => readFileSync(new URL(name, DIRECTORY), 'utf8');

const PUBLIC_URL = 'https://mailtrail.example.com';
const TRACKED = new RegExp(`${PUBLIC_URL.replace(/[.]/g, '\\.')}/track/(open|click|unsubscribe)/[\\w-]+`, 'g');
const TEXT = 'Your receipt: https://shop.example.com/orders/42?a=1&b=2.\nHelp: <https://help.example.com/faq#returns>\nmailto:help@example.com';
const PIXEL_HEADERS = {
  'content-type': 'image/gif',
  'content-length': '43',
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  pragma: 'no-cache',
  expires: '0',
};

/** The URLs each part leads to, in the order instrumentation numbers them: HTML links, then text links. */
function originalLinks(html: string, text: string): string[] {
  const trackLink = (url: string) => url;
  return [...instrumentHtml(html, { trackLink }).links, ...instrumentText(text, { trackLink }).links].map((link) => link.url);
}

function tracked(part: string, kind: 'open' | 'click' | 'unsubscribe'): string[] {
  return [...part.matchAll(TRACKED)].filter((match) => match[1] === kind).map((match) => match[0]);
}

/** One character of the token's middle changed: another token of the same length. */
function flip(token: string): string {
  const at = Math.floor(token.length / 2);
  return token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1);
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: tracking URLs over HTTP`, () => {
    const previousSecret = generateMasterSecret();
    let server: TestServer;
    let integrationId: string;
    const keys = sendgridKeys();

    /** A tracking URL as handed out (PUBLIC_URL), fetched from the test server. */
    const hit = (url: string, init: RequestInit = {}) => fetch(server.url + url.slice(PUBLIC_URL.length), { redirect: 'manual', ...init });
    const register = async (body: Record<string, unknown>) => server.api('/v1/messages', { body: { integrationId, to: 'ada@example.com', ...body } });

    beforeAll(async () => {
      server = await startServer(dialect, { tracking: { previousSecrets: [previousSecret] } });
      const created = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } });
      integrationId = created.body.id;
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('instruments every published email through the API: each link redirects to its exact URL, on GET and on HEAD', async () => {
      let links = 0;
      for (const [index, file] of FILES.entries()) {
        const html = read(file);
        const registered = await register({ id: `msg-${index}`, html, text: TEXT });
        expect(registered.status, file).toBe(201);
        expect(registered.body.providerMessageId).toBeNull();
        const clicks = [...tracked(registered.body.html, 'click'), ...tracked(registered.body.text, 'click')];
        const expected = originalLinks(html, TEXT);
        expect(clicks, file).toHaveLength(expected.length);
        for (const [at, url] of clicks.entries()) {
          for (const method of ['GET', 'HEAD']) {
            const response = await hit(url, { method });
            expect(response.status, `${file} link ${at} ${method}`).toBe(302);
            expect(response.headers.get('location')).toBe(new URL(expected[at]!).href);
            expect(response.headers.get('cache-control')).toBe('no-store');
            expect(response.headers.get('referrer-policy')).toBe('no-referrer');
            expect((await response.arrayBuffer()).byteLength).toBe(0);
          }
        }
        links += clicks.length;
        const [pixel, ...more] = tracked(registered.body.html, 'open');
        expect(more).toEqual([]);
        for (const suffix of ['', '.gif']) {
          const got = await hit(pixel! + suffix);
          expect(Buffer.from(await got.arrayBuffer()).equals(TRANSPARENT_GIF)).toBe(true);
          expect(Object.fromEntries([...got.headers].filter(([name]) => name in PIXEL_HEADERS))).toEqual(PIXEL_HEADERS);
          const head = await hit(pixel! + suffix, { method: 'HEAD' });
          expect(head.status).toBe(200);
          expect(Object.fromEntries([...head.headers].filter(([name]) => name in PIXEL_HEADERS))).toEqual(PIXEL_HEADERS);
          expect((await head.arrayBuffer()).byteLength).toBe(0);
        }
      }
      expect(links).toBeGreaterThan(40);
    });

    it('the library instruments exactly as the API does', async () => {
      const html = read(FILES[0]!);
      const registered = await register({ id: 'msg-same', html, text: TEXT });
      const local = server.mailtrail.instrument({ messageId: 'msg-same', environmentId: server.environmentId, html, text: TEXT });
      expect(local).toEqual({ html: registered.body.html, text: registered.body.text, headers: registered.body.headers });
      // an id a registration would refuse, or no environment to seal for, is refused at once
      expect(() => server.mailtrail.instrument({ messageId: 'order 1234', environmentId: server.environmentId, html })).toThrow(/letters, digits/);
      expect(() => server.mailtrail.instrument({ messageId: 'msg-same', html })).toThrow(/environmentId/);
      // registering again answers the same instrumented parts
      const again = await register({ id: 'msg-same', html, text: TEXT });
      expect(again.status).toBe(200);
      expect(again.body.html).toBe(registered.body.html);
    });

    it('answers 404 and leads nowhere for tampered, truncated, foreign and wrong-kind tokens; ?url= is never read', async () => {
      const registered = await register({ id: 'msg-tamper', html: '<body><a href="https://example.com/account?x=1&amp;y=2">a</a></body>' });
      const [click] = tracked(registered.body.html, 'click');
      const [open] = tracked(registered.body.html, 'open');
      const token = click!.slice(click!.lastIndexOf('/') + 1);
      const foreign = new TrackingTokens([generateMasterSecret()]).seal({ kind: 'click', environmentId: server.environmentId, messageId: 'msg-tamper', linkIndex: 0, url: 'https://evil.example/' });
      const bad = [
        `/track/click/${flip(token)}`,
        `/track/click/${token.slice(0, -1)}`,
        `/track/click/${token.slice(0, 20)}`,
        `/track/click/${token}A`,
        `/track/click/${foreign}`,
        `/track/click/${open!.slice(open!.lastIndexOf('/') + 1)}`,
        `/track/open/${token}`,
        `/track/unsubscribe/${token}`,
        `/track/click/${flip(token)}?url=https://evil.example/`,
        `/track/click/?url=https://evil.example/`,
        '/track/click/%00',
        '/track/click/..%2F..%2Fv1%2Fmessages',
        `/track/click/${'A'.repeat(8_000)}`,
        '/track/open/x.gif',
        '/track/elsewhere/abc',
        '/track/',
      ];
      for (const path of bad) {
        for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE']) {
          const response = await fetch(server.url + path, { method, redirect: 'manual' });
          expect(response.status, `${method} ${path}`).toBe(404);
          expect(response.headers.get('location')).toBeNull();
          if (method === 'GET') expect(await response.json()).toMatchObject({ error: { code: 'MT_ERR_NOT_FOUND' } });
        }
      }
      const withUrl = await hit(`${click}?url=https://evil.example/`);
      expect(withUrl.status).toBe(302);
      expect(withUrl.headers.get('location')).toBe('https://example.com/account?x=1&y=2');
      const page = await hit(`${PUBLIC_URL}/track/click/${flip(token)}`, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(404);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await page.text()).toContain('MT_ERR_NOT_FOUND');
    });

    it('opens a token sealed under a previous secret the instance lists', async () => {
      const old = new TrackingTokens([previousSecret]);
      const click = old.seal({ kind: 'click', environmentId: server.environmentId, messageId: 'msg-rotated', linkIndex: 0, url: 'https://example.com/old' });
      const response = await fetch(`${server.url}/track/click/${click}`, { redirect: 'manual' });
      expect(response.status).toBe(302);
      expect(response.headers.get('location')).toBe('https://example.com/old');
      const open = old.seal({ kind: 'open', environmentId: server.environmentId, messageId: 'msg-rotated' });
      expect((await fetch(`${server.url}/track/open/${open}`)).status).toBe(200);
    });

    it('unsubscribes in one click: a GET shows a plain confirm page, the POST with the RFC 8058 body records it', async () => {
      const registered = await register({ id: 'msg-unsub' });
      expect(registered.body.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
      const url = /^<(.+)>$/.exec(registered.body.headers['List-Unsubscribe'])![1]!;
      expect(url.startsWith(`${PUBLIC_URL}/track/unsubscribe/`)).toBe(true);

      const page = await hit(url);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(page.headers.get('cache-control')).toBe('no-store');
      const html = await page.text();
      expect(html).toMatch(/<html lang="en">/);
      expect(html).toMatch(/<title>Unsubscribe<\/title>/);
      expect(html).toMatch(/<form method="post">/);
      expect(html).toContain('<input type="hidden" name="List-Unsubscribe" value="One-Click">');
      expect(html).toMatch(/<button type="submit"[^>]*>Confirm unsubscribe<\/button>/);
      expect(html).not.toMatch(/<script/i);
      expect((await hit(url, { method: 'HEAD' })).status).toBe(200);

      const form = { 'content-type': 'application/x-www-form-urlencoded' };
      for (const body of ['', 'List-Unsubscribe=Two-Clicks', 'unsubscribe=1']) {
        const refused = await hit(url, { method: 'POST', headers: form, body });
        expect(refused.status, body.slice(0, 30)).toBe(400);
        expect(await refused.json()).toMatchObject({ error: { code: 'MT_ERR_INVALID_BODY' } });
      }
      const oversized = await hit(url, { method: 'POST', headers: form, body: 'x'.repeat(20_000) });
      expect(oversized.status).toBe(413);
      expect(await oversized.json()).toMatchObject({ error: { code: 'MT_ERR_BODY_TOO_LARGE' } });
      const done = await hit(url, { method: 'POST', headers: form, body: 'List-Unsubscribe=One-Click' });
      expect(done.status).toBe(200);
      expect(await done.text()).toContain('You are unsubscribed');
      const multipart = new FormData();
      multipart.set('List-Unsubscribe', 'One-Click');
      expect((await hit(url, { method: 'POST', body: multipart })).status).toBe(200);

      const reflected = await fetch(`${server.url}/track/unsubscribe/%3Cscript%3Ealert(1)%3C%2Fscript%3E`, { headers: { accept: 'text/html' } });
      expect(reflected.status).toBe(404);
      expect(await reflected.text()).not.toContain('<script');
    });

    it('registers without a provider id, and PATCH sets it: the events that came for it meanwhile merge in', async () => {
      const registered = await register({ id: 'msg-later', html: '<a href="https://example.com/">x</a>', tags: ['a'] });
      expect(registered.status).toBe(201);
      const providerMessageId = `pm${Date.now()}`;
      const batch = sendgridBatch([
        { email: 'ada@example.com', timestamp: 1_700_000_000, event: 'delivered', sg_event_id: `ev-${providerMessageId}`, sg_message_id: `${providerMessageId}.filter-1` },
      ]);
      expect((await server.inbound(integrationId, batch, signSendgrid(keys.privateKey, batch))).status).toBe(200);
      const before = await server.api(`/v1/messages?providerMessageId=${providerMessageId}`);
      expect(before.body.data).toHaveLength(1);
      expect(before.body.data[0].id).not.toBe('msg-later');

      const patched = await server.api('/v1/messages/msg-later', { method: 'PATCH', body: { providerMessageId, tags: ['b', 'c'], metadata: { order: 42 } } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id: 'msg-later', providerMessageId, tags: ['b', 'c'], metadata: { order: 42 }, to: 'ada@example.com', status: 'delivered' });
      const after = await server.api(`/v1/messages?providerMessageId=${providerMessageId}`);
      expect(after.body.data.map((message: { id: string }) => message.id)).toEqual(['msg-later']);
      const detail = await server.api('/v1/messages/msg-later');
      expect(detail.body.timeline.map((event: { status: string }) => event.status)).toEqual(['delivered']);

      // an event after the patch goes straight to it
      const later = sendgridBatch([{ email: 'ada@example.com', timestamp: 1_700_000_100, event: 'open', sg_event_id: `open-${providerMessageId}`, sg_message_id: `${providerMessageId}.filter-1` }]);
      await server.inbound(integrationId, later, signSendgrid(keys.privateKey, later));
      expect((await server.api('/v1/messages/msg-later')).body.state.opens).toBe(1);

      expect((await server.api('/v1/messages/msg-later', { method: 'PATCH', body: { providerMessageId: 'another' } })).status).toBe(409);
      expect((await server.api('/v1/messages/msg-later', { method: 'PATCH', body: { providerMessageId } })).status).toBe(200);
      expect((await server.api('/v1/messages/nope', { method: 'PATCH', body: { tags: [] } })).status).toBe(404);
      for (const body of [{}, { to: 'not an address' }, { status: 'delivered' }, { tags: 'x' }]) {
        const refused = await server.api('/v1/messages/msg-later', { method: 'PATCH', body });
        expect(refused.status, JSON.stringify(body)).toBe(400);
      }
    });

    it("applies the environment's tracking defaults, under each request's own switches", async () => {
      const initial = await server.api('/v1/environment');
      expect(initial.body).toMatchObject({ id: server.environmentId, tracking: { opens: true, clicks: true, unsubscribe: true } });
      const html = '<body><a href="https://example.com/">x</a></body>';

      const set = await server.api('/v1/environment', { method: 'PATCH', body: { tracking: { opens: false, unsubscribe: false } } });
      expect(set.status).toBe(200);
      expect(set.body.tracking).toEqual({ opens: false, clicks: true, unsubscribe: false });
      const quiet = await register({ id: 'msg-defaults-1', html });
      expect(tracked(quiet.body.html, 'open')).toEqual([]);
      expect(tracked(quiet.body.html, 'click')).toHaveLength(1);
      expect(quiet.body.headers).toEqual({});

      const asked = await register({ id: 'msg-defaults-2', html, tracking: { opens: true, clicks: false } });
      expect(tracked(asked.body.html, 'open')).toHaveLength(1);
      expect(tracked(asked.body.html, 'click')).toEqual([]);

      for (const body of [{}, { tracking: { opens: 'yes' } }, { tracking: { pixel: true } }, { name: 'x' }]) {
        expect((await server.api('/v1/environment', { method: 'PATCH', body })).status, JSON.stringify(body)).toBe(400);
      }
      const reset = await server.api('/v1/environment', { method: 'PATCH', body: { tracking: { opens: true, unsubscribe: true } } });
      expect(reset.body.tracking).toEqual({ opens: true, clicks: true, unsubscribe: true });
      expect((await server.api('/v1/environment')).body.tracking).toEqual({ opens: true, clicks: true, unsubscribe: true });
    });

    it('documents the tracking, environment and message routes in /openapi.json', async () => {
      const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
      expect(Object.keys(document.paths['/v1/messages/{id}']!)).toEqual(expect.arrayContaining(['get', 'patch']));
      expect(Object.keys(document.paths['/v1/environment']!)).toEqual(expect.arrayContaining(['get', 'patch']));
      for (const path of ['/track/open/{token}', '/track/click/{token}', '/track/unsubscribe/{token}']) expect(document.paths[path], path).toBeDefined();
    });
  });
}
