import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { postgresBinaries, startCluster, type PgCluster } from './helpers/pg-cluster.js';
import { freePort, receiver, until, type Receiver } from './helpers/receiver.js';
import { sendgridBatch, sendgridKeys, signSendgrid } from './helpers/server.js';

// An operator's routine restart of PostgreSQL (`pg_ctl stop -m fast`, then start) while a provider posts signed
// batches: the real `mailtrail serve` process on a throwaway cluster of its own, so stopping it disturbs no one else.
const bin = new URL('../bin/mailtrail.js', import.meta.url).pathname;
const postgresBin = postgresBinaries();

interface Batch {
  /** Each event's sg_message_id, which is also its message's provider id. */
  ids: string[];
  body: string;
  /** Made after the database came back. */
  afterRestart: boolean;
}

interface Refusal {
  status: number;
  code?: string;
  retryAfter?: string | null;
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('PostgreSQL restarts under signed traffic', () => {
  let cluster: PgCluster | undefined;
  let server: ChildProcess | undefined;
  let hooks: Receiver | undefined;
  let output = '';
  const dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-restart-'));
  let url = '';
  let apiKey = '';
  let inboundUrl = '';
  const keys = sendgridKeys();

  beforeAll(async () => {
    if (!postgresBin) return;
    cluster = await startCluster(postgresBin);
    const port = await freePort();
    url = `http://127.0.0.1:${port}`;
    const env = {
      PATH: process.env.PATH!,
      DATABASE_URL: cluster.url,
      MAILTRAIL_SECRET: generateMasterSecret(),
      MAILTRAIL_DATA_DIR: dataDir,
      MAILTRAIL_WEBHOOK_ALLOW_PRIVATE: 'true',
      MAILTRAIL_WEBHOOK_TIMEOUT: '2',
      PORT: String(port),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
    };
    const init = spawnSync(process.execPath, [bin, 'init', '--json'], { env, encoding: 'utf8', timeout: 30_000 });
    expect(init.status, init.stderr).toBe(0);
    const created = JSON.parse(init.stdout) as { environmentId: string; apiKey: string };
    apiKey = created.apiKey;
    server = spawn(process.execPath, [bin, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    server.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ready = await until(() => fetch(`${url}/readyz`).then((response) => response.status, () => 0), (status) => status === 200, 20_000);
    expect(ready, output.slice(-4000)).toBe(200);
    hooks = await receiver();
    const integration = await api('/v1/integrations', { providerId: 'sendgrid', name: 'restart', signingKey: keys.publicKeyBase64 });
    expect(integration.status).toBe(201);
    inboundUrl = url + new URL(integration.body.inboundWebhookUrl).pathname;
    expect((await api('/v1/webhook-endpoints', { url: `${hooks.url}/hook` })).status).toBe(201);
  });

  afterAll(async () => {
    server?.kill('SIGKILL');
    await hooks?.close();
    await cluster?.destroy();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function api(path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> {
    const response = await fetch(url + path, {
      method: body === undefined ? 'GET' : 'POST',
      headers: { authorization: `ApiKey ${apiKey}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, body: text ? JSON.parse(text) : null, headers: response.headers };
  }

  const skipped = postgresBin ? '' : ' (skipped: no initdb under /usr/lib/postgresql/*/bin)';
  it.skipIf(!postgresBin)(`stays up, answers 503 with Retry-After while the database is down, and resumes with nothing lost or doubled${skipped}`, async () => {
    let made = 0;
    let afterRestart = false;
    let producing = true;
    const unacknowledged: Batch[] = [];
    const acknowledged: Batch[] = [];
    const refusals: Refusal[] = [];
    const makeBatch = (): Batch => {
      const ids = Array.from({ length: 5 }, () => `r${made++}`);
      const timestamp = Math.floor(Date.now() / 1000);
      const events = ids.map((id) => ({ email: `${id}@example.com`, event: 'delivered', timestamp, sg_event_id: `e-${id}`, sg_message_id: id }));
      return { ids, body: sendgridBatch(events), afterRestart };
    };
    // A provider: every batch not acknowledged with 200 is posted again, signed anew, until it is.
    const post = async (batch: Batch) => {
      try {
        const response = await fetch(inboundUrl, { method: 'POST', headers: signSendgrid(keys.privateKey, batch.body), body: batch.body });
        const text = await response.text();
        if (response.status === 200) return void acknowledged.push(batch);
        refusals.push({ status: response.status, code: (JSON.parse(text) as { error?: { code?: string } }).error?.code, retryAfter: response.headers.get('retry-after') });
      } catch (error) {
        refusals.push({ status: 0, error: String((error as Error).cause ?? error) });
      }
      unacknowledged.push(batch);
    };
    const lane = async () => {
      while (producing) {
        await post(unacknowledged.shift() ?? makeBatch());
        await sleep(10);
      }
    };
    const lanes = [lane(), lane()];

    await until(async () => acknowledged.length, (count) => count >= 10, 10_000);
    await cluster!.stop();
    const stoppedAt = acknowledged.length;
    await sleep(1500);
    expect(server!.exitCode, output.slice(-4000)).toBeNull();
    // the management API, the inbound URL and readiness all say the database is unavailable, and when to come back
    const events = await api('/v1/events');
    expect(events.status, JSON.stringify(events.body)).toBe(503);
    expect(events.body.error.code).toBe('MT_ERR_STORAGE_UNAVAILABLE');
    expect(events.headers.get('retry-after')).toMatch(/^\d+$/);
    const readiness = await fetch(`${url}/readyz`);
    expect(readiness.status).toBe(503);
    expect(((await readiness.json()) as { error: { code: string } }).error.code).toBe('MT_ERR_STORAGE_UNAVAILABLE');
    expect(refusals.length).toBeGreaterThan(0);
    // the scrape still answers, with what it can tell
    expect((await fetch(`${url}/metrics`)).status).toBe(200);

    const duringOutage = output;
    await cluster!.start();
    const ready = await until(() => fetch(`${url}/readyz`).then((response) => response.status, () => 0), (status) => status === 200, 15_000);
    expect(ready, output.slice(-4000)).toBe(200);
    afterRestart = true;
    const resumedAt = acknowledged.length;
    await until(async () => acknowledged.filter((batch) => batch.afterRestart).length, (count) => count >= 10, 15_000);
    producing = false;
    await Promise.all(lanes);
    for (let batch = unacknowledged.shift(); batch; batch = unacknowledged.shift()) {
      await post(batch);
      await sleep(10);
    }
    expect(unacknowledged).toEqual([]);
    expect(server!.exitCode, output.slice(-4000)).toBeNull();
    expect(acknowledged.length).toBeGreaterThan(resumedAt);
    expect(stoppedAt).toBeGreaterThanOrEqual(10);

    // Every refusal during the outage was a 503 with the stable code and a Retry-After: no 500, no closed socket.
    expect(refusals.filter((refusal) => refusal.status !== 503 || refusal.code !== 'MT_ERR_STORAGE_UNAVAILABLE' || !refusal.retryAfter)).toEqual([]);

    // Every acknowledged event is stored, once.
    const ids = acknowledged.flatMap((batch) => batch.ids);
    const client = new pg.Client({ connectionString: cluster!.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ id: string; count: string }>('select provider_message_id as id, count(*) as count from events group by provider_message_id');
      expect(rows.filter((row) => row.count !== '1')).toEqual([]);
      expect(rows.map((row) => row.id).sort()).toEqual([...ids].sort());
    } finally {
      await client.end();
    }

    // The outbound worker came back by itself: every acknowledged event reaches the endpoint, those posted after
    // the restart and those whose deliveries were claimed or recorded as the database went away.
    const missing = () => ids.filter((id) => !hooks!.requests.some((request) => request.body.includes(`"${id}"`)));
    const left = await until(async () => missing(), (unsent) => unsent.length === 0, 20_000);
    expect(left).toEqual([]);
    // the worker said once that it pauses for the database, not at each of its tries (it looks four times a second)
    expect(duringOutage.split('the outbound worker pauses').length - 1, duringOutage.slice(-4000)).toBe(1);
  }, 60_000);
});
