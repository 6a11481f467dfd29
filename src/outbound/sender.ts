import { request as httpRequest, Agent as HttpAgent, type IncomingMessage } from 'node:http';
import { request as httpsRequest, Agent as HttpsAgent } from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { SsrfRefusal } from './ssrf.js';

/** How long one attempt may take, from connecting to the end of the response. */
export const REQUEST_TIMEOUT_MS = 15_000;
const MAX_RECORDED_BODY = 4096;

export interface AttemptResponse {
  statusCode: number | null;
  /** The first 4 KB of the response body. */
  body: string | null;
  retryAfter: string | undefined;
  /** The network error, the timeout or the SSRF refusal, when there was no response. */
  error: string | null;
  timedOut: boolean;
  refused: boolean;
  durationMs: number;
}

/** Any 2xx is success; nothing else is (redirects are not followed). */
export function succeeded(response: AttemptResponse): boolean {
  return response.statusCode !== null && response.statusCode >= 200 && response.statusCode <= 299;
}

export interface Sender {
  post(url: string, headers: Record<string, string>, body: string): Promise<AttemptResponse>;
  close(): void;
}

/**
 * POSTs over node:http(s) with keep-alive connections. Redirects are never followed (a 3xx is an answer like any
 * other, and not a success). Every connection is made to an address the guard accepts: names through `lookup`,
 * literal addresses checked here.
 */
export function createSender(guard: { permitted(address: string): boolean; lookup: LookupFunction }, timeoutMs = REQUEST_TIMEOUT_MS): Sender {
  const agents = {
    http: new HttpAgent({ keepAlive: true, maxSockets: 64, lookup: guard.lookup } as ConstructorParameters<typeof HttpAgent>[0]),
    https: new HttpsAgent({ keepAlive: true, maxSockets: 64, lookup: guard.lookup } as ConstructorParameters<typeof HttpsAgent>[0]),
  };
  return {
    post(url, headers, body) {
      const started = performance.now();
      const done = (partial: Partial<AttemptResponse>): AttemptResponse => ({
        statusCode: null,
        body: null,
        retryAfter: undefined,
        error: null,
        timedOut: false,
        refused: false,
        durationMs: Math.round(performance.now() - started),
        ...partial,
      });
      const target = new URL(url);
      const host = target.hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) !== 0 && !guard.permitted(host)) return Promise.resolve(done({ error: new SsrfRefusal(host).message, refused: true }));
      const secure = target.protocol === 'https:';
      return new Promise((resolve) => {
        let settled = false;
        const finish = (result: AttemptResponse) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve(result);
        };
        let outgoing: ReturnType<typeof httpRequest>;
        try {
          outgoing = (secure ? httpsRequest : httpRequest)(
            target,
            { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: secure ? agents.https : agents.http, lookup: guard.lookup },
            (response: IncomingMessage) => {
              const chunks: Buffer[] = [];
              let size = 0;
              response.on('data', (chunk: Buffer) => {
                if (size < MAX_RECORDED_BODY) chunks.push(chunk);
                size += chunk.length;
              });
              response.on('end', () =>
                finish(
                  done({
                    statusCode: response.statusCode ?? null,
                    body: Buffer.concat(chunks).subarray(0, MAX_RECORDED_BODY).toString('utf8'),
                    retryAfter: response.headers['retry-after'],
                  }),
                ),
              );
              response.on('error', (error) => finish(done({ statusCode: response.statusCode ?? null, error: error.message })));
            },
          );
        } catch (error) {
          // a request Node refuses to build (a header it will not send): an answer like any failure, never a throw
          settled = true;
          resolve(done({ error: (error as Error).message }));
          return;
        }
        const timer = setTimeout(() => {
          outgoing.destroy();
          finish(done({ error: `no answer within ${timeoutMs / 1000} s`, timedOut: true }));
        }, timeoutMs);
        outgoing.on('error', (error) => finish(done({ error: error.message, refused: error instanceof SsrfRefusal || error.name === 'SsrfRefusal' })));
        outgoing.end(body);
      });
    },
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
