import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeHandler } from './node-handler.js';
import { stripPrefix } from './node-handler.js';

// Fastify is described by the few members used here, so the package neither depends on it nor pins its version.

/** The part of a Fastify 5 instance the plugin uses. */
export interface FastifyInstanceLike {
  readonly prefix: string;
  removeAllContentTypeParsers(): void;
  addContentTypeParser(contentType: string, parser: (request: unknown, payload: unknown, done: (error: Error | null, body?: unknown) => void) => void): void;
  route(options: { method: string[]; url: string; exposeHeadRoute?: boolean; handler: (request: FastifyRequestLike, reply: FastifyReplyLike) => void }): unknown;
}

interface FastifyRequestLike {
  raw: IncomingMessage;
}

interface FastifyReplyLike {
  raw: ServerResponse;
  hijack(): unknown;
}

/** A Fastify 5 plugin serving Mailtrail under the prefix it is registered with. */
export type FastifyPlugin = (instance: FastifyInstanceLike, options: { prefix?: string }) => Promise<void>;

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/**
 * Mailtrail as a Fastify plugin: every path under the prefix goes to Mailtrail, which answers on the raw Node
 * response (`reply.hijack()`). Fastify would parse JSON and form bodies first, and a signature covers the exact
 * bytes, so within the plugin's scope (encapsulated: the host's other routes keep their parsers) the body parsers
 * are replaced by one that reads nothing; Mailtrail reads the stream itself, within its own body limit.
 */
export function createFastifyPlugin(handler: NodeHandler): FastifyPlugin {
  return async function mailtrail(instance) {
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, done) => done(null));
    const prefix = instance.prefix;
    const serve = (request: FastifyRequestLike, reply: FastifyReplyLike) => {
      reply.hijack();
      request.raw.url = stripPrefix(request.raw.url ?? '/', prefix);
      handler(request.raw, reply.raw);
    };
    for (const url of ['/', '/*']) instance.route({ method: METHODS, url, exposeHeadRoute: false, handler: serve });
  };
}
