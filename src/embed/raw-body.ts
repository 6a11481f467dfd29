import type { Readable } from 'node:stream';
import { MailtrailError } from '../core/errors.js';

/**
 * A Node request as a host framework leaves it: its stream, and what a body parser mounted earlier kept of it.
 * `rawBody` is the common place for the exact bytes (`express.json({ verify })`, Firebase, Fastify plugins);
 * `body` is a parser's result (`express.raw()` leaves a Buffer, `express.text()` a string, `express.json()` an object).
 */
export type HostRequest = Readable & { rawBody?: unknown; body?: unknown; _body?: unknown };

/**
 * The body of a request whose stream another parser has already read, from what that parser kept; null when the
 * stream is still unread and can be read as usual. Throws when it was read and nothing usable was kept: the
 * signature of a webhook covers the exact bytes, and a parsed object cannot give them back (re-serializing JSON
 * changes spacing, key order and escapes), so the request is refused rather than checked against the wrong bytes
 * or left waiting for bytes that will never come.
 */
export function handedOverBody(incoming: HostRequest, limit: number): Buffer | null {
  const kept = keptBody(incoming);
  if (kept) {
    if (kept.length > limit) throw new MailtrailError('MT_ERR_BODY_TOO_LARGE', `the body is larger than the limit of ${limit} bytes`);
    return kept;
  }
  if (!wasRead(incoming)) return null;
  throw new MailtrailError(
    'MT_ERR_BODY_CONSUMED',
    'the request body was read by a body parser before Mailtrail saw it (express.json(), express.urlencoded(), …): mount Mailtrail before ' +
      'the body parsers, or keep the exact bytes in req.rawBody, e.g. express.json({ verify: (req, _res, buf) => { req.rawBody = buf } })',
  );
}

/** What a parser kept of a request it read (or `rawBody`, wherever it comes from); null when there is nothing. */
export function keptBody(incoming: HostRequest): Buffer | null {
  return asBytes(incoming.rawBody) ?? (wasRead(incoming) ? asBytes(incoming.body) : null);
}

/**
 * Leaves the kept bytes in `rawBody` as a Buffer, where `@hono/node-server` looks for them when a route reads the
 * web Request's body instead of the stream.
 */
export function exposeKeptBody(incoming: HostRequest): void {
  if (Buffer.isBuffer(incoming.rawBody)) return;
  const kept = keptBody(incoming);
  if (kept) incoming.rawBody = kept;
}

/** Whether anything has read the stream: body-parser marks the request (`_body`), Node the stream itself. */
function wasRead(incoming: HostRequest): boolean {
  return incoming._body === true || incoming.readableDidRead || incoming.readableEnded;
}

/**
 * A string is taken as UTF-8: the exact bytes only when the parser decoded them as UTF-8 (body-parser's default);
 * a Buffer is always exact.
 */
function asBytes(value: unknown): Buffer | null {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return null;
}
