import type { HttpBindings } from '@hono/node-server';
import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { isMailtrailError } from '../../core/errors.js';
import { clientIp, storedIp } from '../../engagement/client-ip.js';
import type { TrackingHit } from '../../engagement/hit.js';
import type { TrackingTarget } from '../../engagement/tokens.js';
import { readBody } from '../body.js';
import type { AppContext, AppEnv } from '../context.js';
import { errorBody } from '../errors.js';
import { ErrorSchema } from '../schemas.js';
import { invalidLinkPage, ONE_CLICK_FIELD, ONE_CLICK_VALUE, PAGE_HEADERS, unsubscribedPage, unsubscribePage } from '../tracking-pages.js';

/** The 43-byte transparent 1×1 GIF89a (one palette entry, marked transparent by its graphic control extension). */
export const TRANSPARENT_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==', 'base64');

/**
 * Every cache between the client and us (the client's own, an image proxy, a corporate proxy) must ask again, or a
 * second open is never seen; `Pragma` and `Expires: 0` for HTTP/1.0 caches that read nothing else.
 */
const PIXEL_HEADERS: Record<string, string> = {
  'content-type': 'image/gif',
  'content-length': String(TRANSPARENT_GIF.length),
  'cache-control': 'no-store, no-cache, must-revalidate, max-age=0',
  pragma: 'no-cache',
  expires: '0',
};

/**
 * How long a pixel or a redirect waits for its hit to be stored. Hits share a commit, so this is normally a few
 * milliseconds (one fsync on SQLite); when the database is slow or away, the person is answered anyway within this
 * bound, and the hit is stored (or logged as lost, and counted by the recorder) after the answer.
 */
const RECORD_WAIT_MS = 250;
/**
 * While other hits are being stored, a new one is answered as soon as it is queued: it joins the shared commit that
 * follows within milliseconds, and a hit that cannot be stored is logged and counted (Mailtrail's close() stores what
 * is queued at shutdown). Waiting for the commit made each hit wait for the ones before it as well, and kept batches
 * at the number of open connections: bench/engagement on PostgreSQL, 16 connections, went from 356 to 1,200 hits/s
 * (server CPU 1.4 to 0.4 ms per hit). Past this many hits not yet stored (a database slower than the traffic), hits
 * wait for their commit again, so the backlog, and how late a hit can be stored after its answer, stay bounded.
 */
const MAX_ANSWERED_UNSTORED = 256;
/** An RFC 8058 body is 26 bytes; a form from our own page is not much more. */
const UNSUBSCRIBE_BODY_LIMIT = 16 * 1024;

/** The Node request behind `c`, when served by @hono/node-server; undefined through a bare fetch handler. */
function incoming(c: Context): HttpBindings['incoming'] | undefined {
  return (c.env as Partial<HttpBindings> | undefined)?.incoming;
}

/**
 * The first-party tracking URLs, outside /v1 and without an API key: the open pixel, the click redirect and the
 * one-click unsubscribe. A token is authenticated encryption (tokens.ts), so anything that does not open as a token
 * of the route's kind answers 404 and leads nowhere: the redirect target comes only from a sealed token, never from
 * the request (`?url=` is not read).
 */
export function trackingRoutes(context: AppContext): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>();
  const { tokens } = context.tracking;
  // Pixel and click hits handed to the recorder and not yet stored (or failed).
  let unstored = 0;

  app.get('/track/open/:token', async (c) => {
    const target = open(c.req.param('token').replace(/\.gif$/i, ''), 'open');
    if (!target) return notFound(c, false);
    await answerWhenQueued(record(c, target, null));
    return c.body(new Uint8Array(TRANSPARENT_GIF), 200, PIXEL_HEADERS);
  });

  app.get('/track/click/:token', async (c) => {
    const target = open(c.req.param('token'), 'click');
    const location = target?.kind === 'click' ? redirectTarget(target.url) : null;
    if (!target || location === null) return notFound(c, true);
    await answerWhenQueued(record(c, target, null));
    return c.body(null, 302, { location, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' });
  });

  // A GET only shows the confirmation: scanners and prefetchers follow every GET link of a message.
  app.get('/track/unsubscribe/:token', (c) => {
    if (!open(c.req.param('token'), 'unsubscribe')) return notFound(c, true);
    return c.body(unsubscribePage(), 200, PAGE_HEADERS);
  });

  app.post('/track/unsubscribe/:token', async (c) => {
    const target = open(c.req.param('token'), 'unsubscribe');
    if (!target) return notFound(c, true);
    if (!(await isOneClick(c))) {
      return c.json(errorBody('MT_ERR_INVALID_BODY', `a one-click unsubscribe posts the form body ${ONE_CLICK_FIELD}=${ONE_CLICK_VALUE} (RFC 8058)`), 400);
    }
    // Unlike a pixel, an unsubscribe that cannot be stored is not answered as done: the error (503 when the
    // database is away) tells the mailbox provider or the person to try again.
    await record(c, target, 'POST');
    return c.body(unsubscribedPage(), 200, PAGE_HEADERS);
  });

  documentRoutes(app);
  return app;

  /**
   * A hit that arrives alone waits for its commit (a few ms), so it can be read as soon as it is answered; one that
   * arrives while others are being stored is answered once queued (MAX_ANSWERED_UNSTORED).
   */
  function answerWhenQueued(recording: Promise<void>): Promise<void> {
    const queuedBehindOthers = unstored > 0 && unstored < MAX_ANSWERED_UNSTORED;
    unstored++;
    const stored = recording.then(
      () => void unstored--,
      () => void unstored--,
    );
    return queuedBehindOthers ? Promise.resolve() : waitBriefly(stored);
  }

  function open(token: string, kind: TrackingTarget['kind']): TrackingTarget | null {
    // TrackingTokens.open takes a token only in the one spelling it was issued in: an edited URL leads nowhere
    const target = tokens.open(token);
    return target?.kind === kind ? target : null;
  }

  /** The hit as the recorder takes it; resolves once it is stored, rejects (after logging) when it cannot be. */
  async function record(c: Context, target: TrackingTarget, method: 'POST' | null): Promise<void> {
    const headers = c.req.raw.headers;
    // Under @hono/node-server the socket is in the bindings; through a bare fetch handler there is no peer to know.
    const peer = incoming(c)?.socket?.remoteAddress ?? '';
    const ip = clientIp(peer, headers, context.tracking.trustedProxies);
    const hit: TrackingHit = {
      kind: target.kind,
      environmentId: target.environmentId,
      messageId: target.messageId,
      linkIndex: target.kind === 'click' ? target.linkIndex : null,
      url: target.kind === 'click' ? target.url : null,
      occurredAt: context.now(),
      method: method ?? (c.req.method === 'HEAD' ? 'HEAD' : 'GET'),
      userAgent: headers.get('user-agent') ?? '',
      ip,
      storedIp: storedIp(ip, context.tracking.ipStorage),
      headers: { accept: headers.get('accept') ?? '', 'accept-language': headers.get('accept-language') ?? '' },
    };
    try {
      await context.hits.record(hit);
    } catch (error) {
      context.log.error({ err: error, kind: hit.kind, messageId: hit.messageId, environmentId: hit.environmentId }, 'a tracking hit could not be stored');
      throw error;
    }
  }
}

/** Waits for `recording` at most RECORD_WAIT_MS; a failure was logged by `record` and does not stop the answer. */
async function waitBriefly(recording: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, RECORD_WAIT_MS);
  });
  try {
    await Promise.race([recording.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Where a click goes: the sealed URL as a valid header value (`URL.href` percent-encodes what a header cannot
 * carry, and the target stays the same resource). Only http(s) URLs are ever sealed; checked again all the same.
 */
function redirectTarget(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/** RFC 8058 §3.1: the body holds `List-Unsubscribe=One-Click`, as application/x-www-form-urlencoded or multipart/form-data. */
async function isOneClick(c: Context): Promise<boolean> {
  let body: Buffer;
  try {
    body = await readBody(c.req.raw, UNSUBSCRIBE_BODY_LIMIT, incoming(c));
  } catch (error) {
    // A host app's parser that ate the body, or a body too large, is said as such: a 400 would tell the mailbox
    // provider that the opt-out itself was wrong, and it would not try again.
    if (isMailtrailError(error) && (error.code === 'MT_ERR_BODY_CONSUMED' || error.code === 'MT_ERR_BODY_TOO_LARGE')) throw error;
    return false;
  }
  const contentType = c.req.header('content-type') ?? '';
  if (/^multipart\/form-data/i.test(contentType)) {
    try {
      const form = await new Response(new Uint8Array(body), { headers: { 'content-type': contentType } }).formData();
      return form.getAll(ONE_CLICK_FIELD).includes(ONE_CLICK_VALUE);
    } catch {
      return false;
    }
  }
  return new URLSearchParams(body.toString('utf8')).getAll(ONE_CLICK_FIELD).includes(ONE_CLICK_VALUE);
}

/** 404 with the stable code; a page for the links a person opens in a browser, JSON for the rest. */
function notFound(c: Context, page: boolean): Response {
  const code = 'MT_ERR_NOT_FOUND';
  if (page && (c.req.header('accept') ?? '').includes('text/html')) return c.body(invalidLinkPage(code), 404, PAGE_HEADERS);
  return c.json(errorBody(code, 'no such tracking link'), 404, { 'cache-control': 'no-store' });
}

/** The tracking routes in /openapi.json; they answer images, redirects and pages, so they are registered by hand. */
function documentRoutes(app: OpenAPIHono<AppEnv>): void {
  const token = z.string().openapi({ param: { name: 'token', in: 'path' }, description: 'A sealed tracking token, as handed out by instrumentation' });
  const notFound = { description: 'Not a valid token of this kind: tampered, truncated, sealed under an unknown secret', content: { 'application/json': { schema: ErrorSchema } } };
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/track/open/{token}',
    tags: ['Tracking'],
    summary: 'The open pixel (also with a .gif suffix; HEAD answers the same headers)',
    request: { params: z.object({ token }) },
    responses: { 200: { description: 'A 43-byte transparent GIF, never cached; the open is recorded', content: { 'image/gif': { schema: z.string().openapi({ format: 'binary' }) } } }, 404: notFound },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/track/click/{token}',
    tags: ['Tracking'],
    summary: "A tracked link: redirects to the link's original URL (HEAD answers the same)",
    description: 'The target comes only from the token; query parameters are ignored, so there is no open redirect.',
    request: { params: z.object({ token }) },
    responses: { 302: { description: 'To the original URL (Location); the click is recorded' }, 404: notFound },
  });
  app.openAPIRegistry.registerPath({
    method: 'get',
    path: '/track/unsubscribe/{token}',
    tags: ['Tracking'],
    summary: 'The unsubscribe confirmation page (a GET never unsubscribes)',
    request: { params: z.object({ token }) },
    responses: { 200: { description: 'A page with a confirm button that posts the one-click form', content: { 'text/html': { schema: z.string() } } }, 404: notFound },
  });
  app.openAPIRegistry.registerPath({
    method: 'post',
    path: '/track/unsubscribe/{token}',
    tags: ['Tracking'],
    summary: 'One-click unsubscribe (RFC 8058): the List-Unsubscribe-Post target',
    request: {
      params: z.object({ token }),
      body: { required: true, content: { 'application/x-www-form-urlencoded': { schema: z.object({ [ONE_CLICK_FIELD]: z.literal(ONE_CLICK_VALUE) }) } } },
    },
    responses: {
      200: { description: 'Recorded as an unsubscribed event; a confirmation page', content: { 'text/html': { schema: z.string() } } },
      400: { description: `The body is not ${ONE_CLICK_FIELD}=${ONE_CLICK_VALUE}`, content: { 'application/json': { schema: ErrorSchema } } },
      404: notFound,
    },
  });
}
