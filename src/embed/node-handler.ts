import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener, type HttpBindings } from '@hono/node-server';
import { exposeKeptBody } from './raw-body.js';

/**
 * A web-standard handler that also takes the Node request and response (Hono's `app.fetch`), and writes an answer
 * given before its request's body has arrived itself (`answeringBeforeBody`).
 */
export type NodeFetch = (request: Request, env: HttpBindings) => Response | Promise<Response>;

/** A `node:http` request listener that can also be mounted as a connect-style middleware. */
export type NodeHandler = (req: IncomingMessage, res: ServerResponse, next?: (error?: unknown) => void) => void;

/**
 * Serves `fetch` to Node requests: builds a web Request from the request (its path as the host left it in
 * `req.url`), and writes the Response back as it streams, pausing on backpressure (`@hono/node-server` does both).
 * The global Request and Response are left as they are: they belong to the host app. With a `prefix`, a request
 * under it is served with the prefix removed, as Express and connect do for a mounted middleware. A body that a
 * parser of the host has already read is served from what it kept (see raw-body.ts).
 */
export function createNodeHandler(fetch: NodeFetch, options: { prefix?: string | undefined } = {}): NodeHandler {
  // `fetch` writes an answer given before the body has arrived itself (http/node-server.ts), so the listener's own
  // clean-up, which destroys the socket half a second later, is off.
  const listener = getRequestListener((request, env) => fetch(request, env as HttpBindings), { overrideGlobalObjects: false, autoCleanupIncoming: false });
  const prefix = normalizePrefix(options.prefix);
  return (req, res, next) => {
    if (prefix) req.url = stripPrefix(req.url ?? '/', prefix);
    exposeKeptBody(req);
    listener(req, res).catch((error: unknown) => {
      // Hono answers every error itself; what is left is the socket failing under the response
      if (next) next(error);
      else res.destroy(error instanceof Error ? error : undefined);
    });
  };
}

/** `/api/` and `api` mean `/api`; `/` and empty mean none. */
function normalizePrefix(prefix: string | undefined): string {
  if (!prefix) return '';
  const trimmed = `/${prefix.replace(/^\/+|\/+$/g, '')}`;
  return trimmed === '/' ? '' : trimmed;
}

/**
 * `/api/v1/messages?x` → `/v1/messages?x`. A path outside the prefix is left whole, so Mailtrail's own 404 answers
 * it; `/apix` is not under `/api`.
 */
export function stripPrefix(url: string, prefix: string): string {
  if (!url.startsWith(prefix)) return url;
  const rest = url.slice(prefix.length);
  if (rest === '') return '/';
  if (rest.startsWith('?')) return `/${rest}`;
  return rest.startsWith('/') ? rest : url;
}
