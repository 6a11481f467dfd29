import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../src/core/event.js';
import { createMailtrail, type Mailtrail } from '../src/index.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { DIALECTS, freshStore, POSTGRES_URL, type TestStore } from './helpers/stores.js';

// The external contract of scale-out: `mailtrail worker` processes sharing one PostgreSQL outbox.
const bin = new URL('../bin/mailtrail.js', import.meta.url).pathname;

interface Setup {
  storage: TestStore;
  mailtrail: Mailtrail;
  secret: string;
  receiver: Server;
  received: string[];
  dataDir: string;
  workers: ChildProcess[];
}

async function setUp(events: number, answerAfterMs: number): Promise<Setup> {
  const storage = await freshStore('postgres');
  const secret = generateMasterSecret();
  const mailtrail = await createMailtrail({ store: storage.store, secret, outbound: { worker: false } });
  const received: string[] = [];
  const receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      received.push(String(request.headers['webhook-id']));
      setTimeout(() => response.writeHead(204).end(), answerAfterMs);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { environmentId } = await mailtrail.createEnvironment('workers');
  await mailtrail.endpoints.create(environmentId, { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook` });
  const { integration } = await mailtrail.integrations.create(environmentId, { providerId: 'generic', name: 'generic' });
  const parsed: ParsedEvent[] = Array.from({ length: events }, (_, index) => ({
    status: 'delivered',
    nativeType: 'delivered',
    occurredAt: 1_795_258_800_000 + index,
    dedupeKey: `w-${index}`,
    providerMessageId: `wm-${index}`,
    recipient: 'w@example.com',
    raw: `{"n":${index}}`,
  }));
  await mailtrail.store.ingest({ environmentId, integrationId: integration.id, provider: 'generic', receivedAt: Date.now(), events: parsed });
  return { storage, mailtrail, secret, receiver, received, dataDir: mkdtempSync(join(tmpdir(), 'mailtrail-worker-')), workers: [] };
}

function startWorker(setup: Setup): ChildProcess {
  const url = `${POSTGRES_URL}?options=${encodeURIComponent(`-c search_path=${setup.storage.location.schema}`)}`;
  const worker = spawn(process.execPath, [bin, 'worker'], {
    env: {
      PATH: process.env.PATH!,
      DATABASE_URL: url,
      MAILTRAIL_SECRET: setup.secret,
      MAILTRAIL_DATA_DIR: setup.dataDir,
      MAILTRAIL_WEBHOOK_ALLOW_PRIVATE: 'true',
      MAILTRAIL_WEBHOOK_CONCURRENCY: '8',
      MAILTRAIL_WEBHOOK_TIMEOUT: '1',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  setup.workers.push(worker);
  return worker;
}

async function pending(setup: Setup): Promise<number> {
  const environments = await setup.mailtrail.store.listEnvironments();
  const [endpoint] = await setup.mailtrail.store.listEndpoints(environments[0]!.id);
  return (await setup.mailtrail.store.listDeliveries(environments[0]!.id, endpoint!.id, { status: 'pending', limit: 500 })).data.length;
}

async function until(condition: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.runIf(DIALECTS.includes('postgres'))('postgres: worker processes sharing one outbox', () => {
  let setup: Setup | undefined;
  afterEach(async () => {
    if (!setup) return;
    for (const worker of setup.workers) worker.kill('SIGKILL');
    setup.receiver.close();
    await setup.mailtrail.close();
    rmSync(setup.dataDir, { recursive: true, force: true });
    setup = undefined;
  });

  it('two workers deliver every event exactly once to a receiver that always acknowledges', async () => {
    setup = await setUp(240, 5);
    startWorker(setup);
    startWorker(setup);
    const current = setup;
    await until(async () => current.received.length >= 240 && (await pending(current)) === 0, 30_000);
    expect(current.received).toHaveLength(240);
    expect(new Set(current.received).size).toBe(240);
  }, 60_000);

  it('after kill -9 of a worker mid-run nothing is lost, and only attempts in flight are sent twice', async () => {
    setup = await setUp(160, 150);
    const doomed = startWorker(setup);
    const current = setup;
    await until(() => current.received.length >= 24, 20_000);
    doomed.kill('SIGKILL');
    const receivedBeforeKill = new Set(current.received);
    startWorker(setup);
    // the killed worker's leases (4 × the 1 s request timeout) run out, and the survivor takes its deliveries over
    await until(async () => (await pending(current)) === 0, 40_000);
    const counts = new Map<string, number>();
    for (const id of current.received) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect(counts.size).toBe(160);
    const twice = [...counts].filter(([, count]) => count > 1).map(([id]) => id);
    // at most the 8 attempts the killed worker had in flight, each of them received before it died
    expect(twice.length).toBeLessThanOrEqual(8);
    for (const id of twice) expect(receivedBeforeKill.has(id)).toBe(true);
    expect([...counts.values()].every((count) => count <= 2)).toBe(true);
  }, 90_000);
});
