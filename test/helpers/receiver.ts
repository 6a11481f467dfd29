import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  /** performance.now() on arrival. */
  at: number;
  /** Date.now() on arrival, to compare with times Mailtrail records. */
  wallAt: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  port: number;
  /** Every request, in the order they arrived. */
  requests: Received[];
  /** Per path, the statuses of its next answers (200 when the script is used up). */
  script: Map<string, number[]>;
  close(): Promise<void>;
}

/**
 * A webhook receiver on loopback (on `port`, or any free one); `/nul` answers with a NUL in its body. `hold`, given
 * the request's index, delays the answer until it settles (a gate, a pause, or never for an endpoint that hangs).
 */
export async function receiver(options: { port?: number; hold?: (index: number) => Promise<void> } = {}): Promise<Receiver> {
  const requests: Received[] = [];
  const script = new Map<string, number[]>();
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const index = requests.push({ at: performance.now(), wallAt: Date.now(), path: request.url!, headers: request.headers, body: Buffer.concat(chunks).toString('utf8') }) - 1;
      const status = script.get(request.url!)?.shift() ?? 200;
      void (options.hold?.(index) ?? Promise.resolve()).then(() =>
        response.writeHead(status, { 'content-type': 'text/plain' }).end(request.url === '/nul' ? 'ok\u0000 with a NUL' : `answered ${status}`),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    requests,
    script,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port nothing listens on (for now): connections to it are refused. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Reads until `done` holds or the time is up, and returns the last value read (the caller's assertions say why). */
export async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() - started > timeoutMs) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
