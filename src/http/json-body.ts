import { z } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type { HttpBindings } from '@hono/node-server';
import { MailtrailError } from '../core/errors.js';
import { nestsDeeperThan, tooDeep } from '../core/json-depth.js';
import { readBody } from './body.js';

/** `application/json` or `application/<anything>+json`, with any parameters: what the route validators parse. */
export function isJsonContentType(contentType: string | undefined): boolean {
  return /^application\/([\w.-]+\+)?json$/i.test(contentType?.split(';')[0]?.trim() ?? '');
}

/**
 * The request body of a route that takes none: no body, or `{}`. Declared rather than ignored, so that a body sent
 * by mistake (a setting meant for another route, junk, another content type) is refused as on every other route
 * instead of being dropped while the route goes ahead (a DELETE with junk deleted).
 */
export const noBody = {
  required: false,
  description: 'None: send no body (or `{}`)',
  content: { 'application/json': { schema: z.object({}).strict().openapi('NoBody') } },
};

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Reads a JSON body before the route's validator does: at most `limit` bytes (413 past it, as on inbound URLs), no
 * deeper than ingest accepts (deep metadata or settings would be stored, and then every read of them would run out
 * of stack), and saying what is wrong with one that cannot be read (the framework only says "Malformed JSON"). An
 * empty body labelled JSON is refused too, as Fastify does: where a body is optional, the way to send none is to
 * send no content-type either.
 */
export function readJsonBody(limit: number): MiddlewareHandler {
  return async (c, next) => {
    if (!WRITE_METHODS.has(c.req.method) || !isJsonContentType(c.req.header('content-type'))) return next();
    const text = (await readBody(c.req.raw, limit, (c.env as Partial<HttpBindings> | undefined)?.incoming)).toString('utf8');
    if (text.trim() === '') {
      throw new MailtrailError('MT_ERR_INVALID_BODY', 'the body is empty but its content-type says JSON; send a JSON object, or neither a body nor a content-type where the body is optional');
    }
    if (nestsDeeperThan(text)) throw tooDeep();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new MailtrailError('MT_ERR_INVALID_BODY', `the body is not valid JSON: ${(error as Error).message}`);
    }
    // what the validators read, so the body is parsed once; the text for anything that asks for it
    // (Hono keeps promises there, whatever its type says)
    Object.assign(c.req.bodyCache, { json: Promise.resolve(parsed), text: Promise.resolve(text) });
    return next();
  };
}
