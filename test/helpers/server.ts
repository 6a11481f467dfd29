import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { createMailtrail, type Mailtrail } from '../../src/index.js';
import type { Logger } from '../../src/log.js';
import type { OutboundOptions, TrackingOptions } from '../../src/mailtrail.js';
import { generateMasterSecret } from '../../src/security/secret-box.js';
import { freshStore, type TestStore } from './stores.js';

export interface TestServer {
  url: string;
  mailtrail: Mailtrail;
  environmentId: string;
  apiKey: string;
  storage: TestStore;
  /** Calls the management API with this environment's key. */
  api(path: string, init?: { method?: string; body?: unknown; apiKey?: string }): Promise<{ status: number; body: any; headers: Headers }>;
  /** Posts a raw body to an integration's inbound URL. */
  inbound(integrationId: string, body: string | Buffer, headers: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

/** A real Mailtrail on a loopback port, on a fresh database of the given dialect. */
export async function startServer(
  dialect: 'sqlite' | 'postgres',
  options: {
    bodyLimit?: number;
    snsCertDir?: string;
    providerFetch?: typeof fetch;
    now?: () => number;
    outbound?: OutboundOptions;
    logger?: Logger;
    secret?: string;
    tracking?: TrackingOptions;
  } = {},
): Promise<TestServer> {
  const storage = await freshStore(dialect);
  const mailtrail = await createMailtrail({
    store: storage.store,
    secret: options.secret ?? generateMasterSecret(),
    publicUrl: 'https://mailtrail.example.com',
    bodyLimit: options.bodyLimit,
    snsCertDir: options.snsCertDir,
    providerFetch: options.providerFetch,
    now: options.now,
    outbound: options.outbound,
    logger: options.logger,
    tracking: options.tracking,
  });
  const { environmentId, apiKey } = await mailtrail.createEnvironment('test');
  const server = await mailtrail.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: server.url,
    mailtrail,
    environmentId,
    apiKey,
    storage,
    async api(path, init = {}) {
      const response = await fetch(server.url + path, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: { authorization: `ApiKey ${init.apiKey ?? apiKey}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: init.body === undefined ? undefined : JSON.stringify(init.body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
    },
    async inbound(integrationId, body, headers) {
      const response = await fetch(`${server.url}/v2/inbound-webhooks/delivery-providers/${environmentId}/${integrationId}`, { method: 'POST', headers, body });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
    },
    async stop() {
      await server.close();
      await storage.cleanup();
    },
  };
}

/** A SendGrid Signed Event Webhook key pair, as SendGrid would hold and show it. */
export function sendgridKeys(): { privateKey: KeyObject; publicKeyBase64: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64') };
}

/** Headers SendGrid sends with a signed batch. */
export function signSendgrid(privateKey: KeyObject, body: string, timestamp = String(Math.floor(Date.now() / 1000))): Record<string, string> {
  const signature = sign('sha256', Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]), { key: privateKey, dsaEncoding: 'der' });
  return {
    'content-type': 'application/json',
    'x-twilio-email-event-webhook-signature': signature.toString('base64'),
    'x-twilio-email-event-webhook-timestamp': timestamp,
  };
}

/** A SendGrid batch as SendGrid writes it: compact objects joined by CRLF, with a trailing CRLF. */
export function sendgridBatch(events: Record<string, unknown>[]): string {
  return '[' + events.map((event) => JSON.stringify(event)).join(',\r\n') + ']\r\n';
}
