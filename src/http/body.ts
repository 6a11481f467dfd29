import type { Readable } from 'node:stream';
import { MailtrailError } from '../core/errors.js';
import { handedOverBody, type HostRequest } from '../embed/raw-body.js';

// A sender that goes away mid-body is not a server fault: a 4xx nobody reads, rather than a 500 logged as an error.
const aborted = (cause?: unknown) => new MailtrailError('MT_ERR_INVALID_BODY', 'the request ended before its body did', { cause });
const tooLarge = (limit: number) => new MailtrailError('MT_ERR_BODY_TOO_LARGE', `the body is larger than the limit of ${limit} bytes`);

/**
 * Reads a request body into one buffer, stopping as soon as it passes `limit` bytes. On Node the body is read
 * from the `IncomingMessage` itself, which skips the web-stream conversion (measurable on 1 MB SendGrid batches).
 */
export async function readBody(request: Request, limit: number, incoming?: Readable): Promise<Buffer> {
  // mounted in a host app, whose body parser may have read the stream first (see src/embed)
  if (incoming) return handedOverBody(incoming as HostRequest, limit) ?? readIncoming(incoming, limit);
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read().catch((error: unknown) => Promise.reject(aborted(error)));
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Past the limit the stream is only paused, never destroyed: destroying an unfinished request destroys its socket
 * before the 413 is written. The server decides what becomes of the rest (see node-server.ts).
 */
function readIncoming(incoming: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    if (incoming.destroyed) return reject(aborted());
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('close', onClose);
      incoming.pause();
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        stop();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      stop();
      reject(aborted(error));
    };
    // the sender went away before the end of its body
    const onClose = () => onError(new Error('closed'));
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('close', onClose);
  });
}
