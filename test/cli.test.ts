import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendgridBatch, sendgridKeys, signSendgrid } from './helpers/server.js';

// The external contract, exercised the way a user (or a test outside this repository) does: the real command,
// its stdout, its exit codes, and HTTP on a real port.
const bin = new URL('../bin/mailtrail.js', import.meta.url).pathname;

function run(args: string[], env: Record<string, string>) {
  return spawnSync(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH!, ...env }, encoding: 'utf8', timeout: 30_000 });
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('the mailtrail command', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-cli-'));
  let server: ChildProcess;
  let url: string;
  let credentials: { environmentId: string; apiKey: string };

  beforeAll(async () => {
    const init = run(['init', '--json', '--name', 'cli'], { MAILTRAIL_DATA_DIR: dataDir });
    expect(init.status, init.stderr).toBe(0);
    credentials = JSON.parse(init.stdout);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    server = spawn(process.execPath, [bin, 'serve'], {
      env: { PATH: process.env.PATH!, MAILTRAIL_DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL: 'https://hooks.example.com', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (let attempt = 0; attempt < 100; attempt++) {
      const ready = await fetch(`${url}/readyz`).then((response) => response.ok, () => false);
      if (ready) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error('mailtrail serve did not become ready');
  });

  afterAll(() => {
    server?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('init --json prints the environment and key as JSON and nothing else', () => {
    expect(credentials).toEqual({ environmentId: expect.stringMatching(/^env_/), apiKey: expect.stringMatching(/^mt_sk_/) });
    const again = run(['init', '--json'], { MAILTRAIL_DATA_DIR: dataDir });
    expect(again.stdout.trim().split('\n')).toHaveLength(1);
    expect(JSON.parse(again.stdout).environmentId).not.toBe(credentials.environmentId);
  });

  it('serves the API with the key from init, and SendGrid events end up in the feed', async () => {
    const auth = { authorization: `ApiKey ${credentials.apiKey}`, 'content-type': 'application/json' };
    const keys = sendgridKeys();
    const created = await fetch(`${url}/v1/integrations`, { method: 'POST', headers: auth, body: JSON.stringify({ providerId: 'sendgrid', name: 'cli', signingKey: keys.publicKeyBase64 }) });
    expect(created.status).toBe(201);
    const integration = (await created.json()) as { inboundWebhookUrl: string };
    expect(integration.inboundWebhookUrl.startsWith('https://hooks.example.com/v2/inbound-webhooks/delivery-providers/')).toBe(true);
    const body = sendgridBatch([{ email: 'cli@example.com', event: 'delivered', timestamp: 1700000000, sg_event_id: 'c1', sg_message_id: 'CLI.1' }]);
    const inbound = await fetch(url + new URL(integration.inboundWebhookUrl).pathname, { method: 'POST', headers: signSendgrid(keys.privateKey, body), body });
    expect(inbound.status).toBe(200);
    const feed = (await (await fetch(`${url}/v1/messages`, { headers: auth })).json()) as { data: { status: string }[] };
    expect(feed.data.map((message) => message.status)).toEqual(['delivered']);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('mailtrail_events_total{provider="sendgrid",status="delivered"} 1');
  });

  it('integrations add creates an integration the running server accepts, and shows its credentials once', async () => {
    const env = { MAILTRAIL_DATA_DIR: dataDir, PUBLIC_URL: 'https://hooks.example.com' };
    const added = run(['integrations', 'add', 'postmark', '--environment', credentials.environmentId, '--json'], env);
    expect(added.status, added.stderr).toBe(0);
    const integration = JSON.parse(added.stdout);
    expect(integration).toMatchObject({ providerId: 'postmark', authScheme: 'credentials', credentials: { username: 'mailtrail' } });
    expect(integration.authenticatedWebhookUrl).toMatch(/^https:\/\/mailtrail:[\w-]+@hooks\.example\.com\/v2\/inbound-webhooks\/delivery-providers\//);
    const body = JSON.stringify({ RecordType: 'Delivery', MessageID: 'pm-cli-1', Recipient: 'cli@example.com', DeliveredAt: '2026-11-21T10:00:00Z' });
    const basic = `Basic ${Buffer.from(`mailtrail:${integration.credentials.password}`).toString('base64')}`;
    const inbound = await fetch(url + new URL(integration.inboundWebhookUrl).pathname, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic }, body });
    expect(inbound.status).toBe(200);
    const listed = await (await fetch(`${url}/v1/integrations/${integration.id}`, { headers: { authorization: `ApiKey ${credentials.apiKey}` } })).json();
    expect(JSON.stringify(listed)).not.toContain(integration.credentials.password);
  });

  it("integrations add prints the URL and the provider's setup steps", () => {
    const added = run(['integrations', 'add', 'sendgrid', '--environment', credentials.environmentId], { MAILTRAIL_DATA_DIR: dataDir, PUBLIC_URL: 'https://hooks.example.com' });
    expect(added.status, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/Inbound URL: https:\/\/hooks\.example\.com\/v2\/inbound-webhooks\/delivery-providers\/env_\w+\/int_\w+/);
    expect(added.stdout).toContain('No signing key yet');
    expect(added.stdout).toMatch(/^Set up\n1\. /m);
    expect(added.stdout).not.toContain('<inbound URL>');
  });

  it('integrations add takes the status mapping, and refuses one it does not know', () => {
    const env = { MAILTRAIL_DATA_DIR: dataDir };
    const precise = run(['integrations', 'add', 'mailgun', '--environment', credentials.environmentId, '--status-mapping', 'precise', '--json'], env);
    expect(precise.status, precise.stderr).toBe(0);
    expect(JSON.parse(precise.stdout)).toMatchObject({ providerId: 'mailgun', statusMapping: 'precise' });
    const byDefault = run(['integrations', 'add', 'mailgun', '--environment', credentials.environmentId, '--json'], env);
    expect(JSON.parse(byDefault.stdout)).toMatchObject({ statusMapping: 'contract' });
    const unknown = run(['integrations', 'add', 'mailgun', '--environment', credentials.environmentId, '--status-mapping', 'loose'], env);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/statusMapping must be one of "contract", "precise"/);
  });

  it('integrations add refuses an unknown provider and an ambiguous environment', () => {
    const unknown = run(['integrations', 'add', 'pigeon', '--environment', credentials.environmentId], { MAILTRAIL_DATA_DIR: dataDir });
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^mailtrail: unknown provider "pigeon"; one of: sendgrid, mailgun/);
    const ambiguous = run(['integrations', 'add', 'resend'], { MAILTRAIL_DATA_DIR: dataDir });
    expect(ambiguous.status).toBe(1);
    expect(ambiguous.stderr).toMatch(/choose one with --environment/);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it.each([
    [{ PORT: 'eighty' }, /^mailtrail: PORT must be a whole number/],
    [{ DATABASE_URL: 'mysql://localhost/db' }, /^mailtrail: DATABASE_URL must be a postgres/],
    [{ NODE_ENV: 'production' }, /^mailtrail: MAILTRAIL_SECRET is required when NODE_ENV=production/],
  ])('refuses a bad setting %o with one line and exit code 1', (env, message) => {
    const result = run(['serve'], { MAILTRAIL_DATA_DIR: dataDir, ...env });
    expect(result.status).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
  });
});
