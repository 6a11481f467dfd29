import { connect } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHUNK, parseResponse, postOversized } from './helpers/oversized.js';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';

// The 413 for a body over MAILTRAIL_BODY_LIMIT must reach a sender that is still writing that body: a provider
// that sees a reset instead logs a network error and retries the same batch. SQLite only: the store plays no part
// in refusing an oversized body, the socket handling does.

/** A 1 MiB limit keeps 50 tries quick; what matters is how much is still on its way when the 413 is ready. */
const LIMIT = 1024 * 1024;
/**
 * More than the kernel buffers between sender and server hold (about 5 MB on loopback here), so that before the fix
 * the server closed the connection while the sender was still writing, every time.
 */
const STILL_ON_ITS_WAY = 6 * 1024 * 1024;
const TRIES = 50;

/**
 * Opens a request that declares `declared` (a Content-Length, or chunked when null), writes `size` bytes of body as
 * fast as it can while reading, and reports what it read and how far it got once the server closes the connection.
 */
function sendUntilClosed(url: string, path: string, headers: Record<string, string>, declared: number | null, size: number): Promise<{ status: number | null; sent: number; closedAfterMs: number }> {
  const { hostname, port } = new URL(url);
  const head = [`POST ${path} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
  head.push(declared === null ? 'transfer-encoding: chunked' : `content-length: ${declared}`, '', '');
  const filler = Buffer.alloc(CHUNK, 'x');
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    let received = Buffer.alloc(0);
    let sent = 0;
    const pump = () => {
      while (sent < size && socket.writable) {
        sent += CHUNK;
        const framed = declared === null ? Buffer.concat([Buffer.from(`${CHUNK.toString(16)}\r\n`), filler, Buffer.from('\r\n')]) : filler;
        if (!socket.write(framed)) return void socket.once('drain', pump);
      }
    };
    socket.on('connect', () => {
      socket.write(head.join('\r\n'));
      pump();
    });
    socket.on('data', (data: Buffer) => {
      received = Buffer.concat([received, data]);
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ status: parseResponse(received)?.status ?? null, sent, closedAfterMs: performance.now() - started }));
  });
}

describe('a body over the limit', () => {
  let server: TestServer;
  let path: string;
  let integrationId: string;
  const keys = sendgridKeys();
  // signed like any SendGrid batch: the size is refused before the signature is looked at
  const signedHeaders = () => signSendgrid(keys.privateKey, '[]');

  beforeAll(async () => {
    server = await startServer('sqlite', { bodyLimit: LIMIT });
    const created = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } });
    expect(created.status).toBe(201);
    path = new URL(created.body.inboundWebhookUrl).pathname;
    integrationId = created.body.id;
  });
  afterAll(async () => {
    await server?.stop();
  });

  const cases = [
    // refused on its Content-Length before a byte is read
    { framing: 'length', size: LIMIT + STILL_ON_ITS_WAY },
    // found out only at the limit
    { framing: 'chunked', size: LIMIT + STILL_ON_ITS_WAY },
  ] as const;

  for (const { framing, size } of cases) {
    it(`answers 413 ${TRIES} times in a row, and a sender that reads after writing reads it every time (${framing === 'length' ? 'Content-Length' : 'chunked'})`, async () => {
        const failures: string[] = [];
        for (let attempt = 1; attempt <= TRIES; attempt++) {
          const outcome = await postOversized(server.url, path, signedHeaders(), size, framing);
          if (outcome.failure !== null) failures.push(`try ${attempt}: ${outcome.failure}`);
          else if (outcome.status !== 413 || JSON.parse(outcome.body).error?.code !== 'MT_ERR_BODY_TOO_LARGE') {
            failures.push(`try ${attempt}: ${outcome.status} ${outcome.body.slice(0, 200)}`);
          }
        }
        expect(failures).toEqual([]);

        // the server is still well: a normal batch is stored
        const batch = sendgridBatch([{ email: 'ada@example.com', event: 'delivered', timestamp: 1_700_000_000, sg_event_id: `after-${framing}`, sg_message_id: 'm1' }]);
        const normal = await server.inbound(integrationId, batch, signSendgrid(keys.privateKey, batch));
        expect(normal.status).toBe(200);
        expect(normal.body).toHaveLength(1);
    });
  }

  it('reads at most 8 MiB past the limit of a refused body, then closes the connection', async () => {
    const endless = await sendUntilClosed(server.url, path, signedHeaders(), null, 64 * 1024 * 1024);
    expect(endless.status).toBe(413);
    expect(endless.sent).toBeGreaterThan(LIMIT + 8 * 1024 * 1024);
    // what the sender had written by then: that, and what the kernel buffers held
    expect(endless.sent).toBeLessThan(32 * 1024 * 1024);
  });

  it('waits 5 s at most for the rest of a refused body', async () => {
    const stalled = await sendUntilClosed(server.url, path, signedHeaders(), LIMIT + STILL_ON_ITS_WAY, 0);
    expect(stalled.status).toBe(413);
    expect(stalled.closedAfterMs).toBeGreaterThan(4_500);
    expect(stalled.closedAfterMs).toBeLessThan(7_000);
  });
});

describe('a sender that goes away mid-body', () => {
  // Node reports the abort as ECONNRESET, the code of a lost database connection too: it was answered 503
  // "database not reachable" and logged as a warning.
  it('is no server fault: no warning or error logged, no 5xx counted, and the server goes on', async () => {
    const logs: { level: number; msg: string }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    const server = await startServer('sqlite', { logger });
    try {
      const keys = sendgridKeys();
      const created = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } });
      const { hostname, port } = new URL(server.url);
      const targets = [new URL(created.body.inboundWebhookUrl).pathname, '/v1/integrations'];
      for (const target of targets) {
        await new Promise<void>((resolve) => {
          const socket = connect(Number(port), hostname, () => {
            const headers = { ...signSendgrid(keys.privateKey, '[]'), authorization: `ApiKey ${server.apiKey}` };
            socket.write([`POST ${target} HTTP/1.1`, `host: ${hostname}:${port}`, ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`), 'content-length: 100000', '', '{"half":'].join('\r\n'));
            setTimeout(() => socket.destroy(), 100);
          });
          socket.on('close', () => resolve());
          socket.on('error', () => undefined);
        });
      }
      // the server has seen both closes once a later request is answered
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await server.api('/v1/integrations')).status).toBe(200);
      expect(logs.filter((line) => line.level >= 40)).toEqual([]);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).not.toMatch(/mailtrail_http_request_duration_seconds_count\{[^}]*status="5\d\d"/);
    } finally {
      await server.stop();
    }
  });
});
