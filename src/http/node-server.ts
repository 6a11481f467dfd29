import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve, type HttpBindings, type ServerType } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';

/** How long the rest of a request answered early is read and dropped, at most. */
const LINGER_MS = 5_000;
/** How far past the body limit a request answered early is read, at most (headers and framing included). */
const LINGER_EXTRA_BYTES = 8 * 1024 * 1024;

export interface NodeServerOptions {
  port: number;
  hostname: string;
  /** The inbound body limit: what a request may send before it is refused. */
  bodyLimit: number;
}

type Fetch = (request: Request, env: HttpBindings) => Response | Promise<Response>;

/** Serves `fetch` on a Node HTTP server, so that an answer given before its request's body has arrived reaches the sender. */
export function serveNode(fetch: Fetch, options: NodeServerOptions, onListening: (info: AddressInfo) => void): ServerType {
  const answering = answeringBeforeBody(fetch, options.bodyLimit);
  return serve(
    {
      fetch: (request, env) => answering(request, env as HttpBindings),
      port: options.port,
      hostname: options.hostname,
      // Its own clean-up reads an unread body for 500 ms, then destroys the socket: answerBeforeBody does it instead.
      autoCleanupIncoming: false,
    },
    onListening,
  );
}

/**
 * `fetch`, with an answer given before its request's body has arrived written so that it reaches the sender (see
 * answerBeforeBody). For a Node listener made with `autoCleanupIncoming: false`: this does that clean-up instead.
 */
export function answeringBeforeBody(fetch: Fetch, bodyLimit: number): Fetch {
  return async (request, env) => {
    const { incoming, outgoing } = env;
    const stopReadingAt = incoming.socket.bytesRead + bodyLimit + LINGER_EXTRA_BYTES;
    const response = await fetch(request, env);
    if (incoming.complete || incoming.destroyed) return response;
    return answerBeforeBody(response, incoming, outgoing, stopReadingAt);
  };
}

/**
 * The answer is ready before the request's body has arrived: a 413 (refused on its Content-Length, or at the limit
 * while reading), or a refusal that needed no body. A socket closed while the sender is still writing answers it
 * with a reset, and a sender that writes its whole request before reading, or that is busy writing, then gets EPIPE
 * or ECONNRESET instead of the answer. Node closes right after the FIN of a `Connection: close` response, so the
 * half-close cannot come first: the answer is written whole, with its length (a sender may read it at once), the
 * rest of the body is read and dropped within bounds, and only then does the response end and Node close the
 * connection, with nothing unread left to reset it (RFC 9112 §9.6). Past the bounds it is closed all the same.
 */
async function answerBeforeBody(response: Response, incoming: IncomingMessage, outgoing: ServerResponse, stopReadingAt: number): Promise<Response> {
  const body = Buffer.from(await response.arrayBuffer());
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
  headers.connection = 'close';
  outgoing.writeHead(response.status, headers);
  outgoing.write(body);
  void discardRest(incoming, stopReadingAt).then(() => outgoing.end());
  return RESPONSE_ALREADY_SENT;
}

/** Reads and drops what is left of the request, until it ends, the sender goes, or a bound is reached. */
function discardRest(incoming: IncomingMessage, stopReadingAt: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      incoming.off('data', onData);
      incoming.off('end', done);
      incoming.off('close', done);
      incoming.off('error', done);
      resolve();
    };
    const onData = () => {
      if (incoming.socket.bytesRead > stopReadingAt) done();
    };
    const timer = setTimeout(done, LINGER_MS);
    incoming.on('data', onData);
    incoming.on('end', done);
    incoming.on('close', done);
    incoming.on('error', done);
    incoming.resume();
  });
}
