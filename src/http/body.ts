import { MailtrailError } from '../core/errors.js';

/**
 * Reads a request body into one buffer, stopping as soon as it passes `limit` bytes. On Node the body is read
 * from the `IncomingMessage` itself, which skips the web-stream conversion (measurable on 1 MB SendGrid batches).
 */
export async function readBody(request: Request, limit: number, incoming?: AsyncIterable<Buffer>): Promise<Buffer> {
  if (incoming) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of incoming) {
      size += chunk.length;
      if (size > limit) {
        // Leaving the loop stops the stream; the 413 carries `connection: close` (see errors.ts).
        throw new MailtrailError('MT_ERR_BODY_TOO_LARGE', `the body is larger than the limit of ${limit} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, size);
  }
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new MailtrailError('MT_ERR_BODY_TOO_LARGE', `the body is larger than the limit of ${limit} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}
