// bench/outbound: deliveries/s from the outbox to a local receiver, beside a bare signed POST loop over the same
// number of connections in the same run; and how long fresh deliveries wait behind a backlog of due retries.
import { request as httpRequest, Agent, createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ParsedEvent } from '../src/core/event.js';
import { createMailtrail, type Mailtrail } from '../src/index.js';
import { generateSecret } from '../src/outbound/endpoints.js';
import { DEFAULT_RETRY_SCHEDULE } from '../src/outbound/schedule.js';
import { createSender } from '../src/outbound/sender.js';
import { createAddressGuard } from '../src/outbound/ssrf.js';
import { DeliveryWorker } from '../src/outbound/worker.js';
import { standardWebhooksKey, standardWebhooksSignature } from '../src/providers/standard-webhooks.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { dropBenchData } from './lib/cleanup.js';
import { table } from './lib/report.js';

const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const DELIVERIES = Number(process.env.BENCH_OUTBOUND_DELIVERIES ?? 4000);
const CONNECTIONS = 16;
const BACKLOG = Number(process.env.BENCH_OUTBOUND_BACKLOG ?? 4000);

interface Receiver {
  url: string;
  /** Arrival time (performance.now) of each request, by path. */
  arrivals: Map<string, number[]>;
  close(): void;
}

async function receiver(): Promise<Receiver> {
  const arrivals = new Map<string, number[]>();
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      const list = arrivals.get(request.url!) ?? [];
      list.push(performance.now());
      arrivals.set(request.url!, list);
      // the retry backlog's endpoint keeps failing
      response.writeHead(request.url === '/failing' ? 503 : 204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrivals, close: () => server.close() };
}

/** The floor: the same number of signed POSTs of a payload of the same size, over as many keep-alive connections. */
async function signedPostFloor(url: string, body: string): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const key = standardWebhooksKey(generateSecret())!;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < DELIVERIES) {
        const id = `msg_${next++}`;
        const timestamp = String(Math.floor(Date.now() / 1000));
        const headers = { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': standardWebhooksSignature(key, id, timestamp, body) };
        await new Promise<void>((resolve, reject) => {
          const outgoing = httpRequest(`${url}/floor`, { method: 'POST', agent, headers }, (response) => {
            response.resume();
            response.on('end', () => resolve());
          });
          outgoing.on('error', reject);
          outgoing.end(body);
        });
      }
    }),
  );
  agent.destroy();
  return DELIVERIES / ((performance.now() - started) / 1000);
}

function events(count: number, prefix: string): ParsedEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    status: 'delivered',
    nativeType: 'delivered',
    occurredAt: 1_795_258_800_000 + index,
    dedupeKey: `${prefix}-${index}`,
    providerMessageId: `${prefix}-m-${index}`,
    recipient: `user${index}@example.com`,
    raw: JSON.stringify({ n: index, prefix }),
  }));
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 300_000): Promise<void> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error('bench/outbound timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A worker of our own over the instance's store, so the run starts with the whole outbox due. */
function worker(mailtrail: Mailtrail): DeliveryWorker {
  return new DeliveryWorker({
    store: mailtrail.store,
    endpoints: mailtrail.endpoints,
    sender: createSender(createAddressGuard({ allowPrivate: true, allowedCidrs: [] })),
    schedule: DEFAULT_RETRY_SCHEDULE,
    concurrency: CONNECTIONS,
    log: mailtrail.log,
    now: Date.now,
    pollMs: 20,
  });
}

async function ingest(mailtrail: Mailtrail, environmentId: string, integrationId: string, list: ParsedEvent[]): Promise<void> {
  for (let i = 0; i < list.length; i += 1000) {
    await mailtrail.store.ingest({ environmentId, integrationId, provider: 'generic', receivedAt: Date.now(), events: list.slice(i, i + 1000), withMessages: false });
  }
}

async function runDialect(
  dialect: 'sqlite' | 'postgres',
  hooks: Receiver,
): Promise<{ rate: number; idle: Latencies; behind: Latencies; backlogSent: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-bench-outbound-'));
  const schema = `bench_outbound_${process.pid}`;
  const mailtrail = await createMailtrail({
    secret: generateMasterSecret(),
    dataDir: dir,
    ...(dialect === 'postgres' ? { databaseUrl: POSTGRES_URL, databaseSchema: schema } : {}),
    outbound: { worker: false },
  });
  try {
    const { environmentId } = await mailtrail.createEnvironment('bench');
    const { integration } = await mailtrail.integrations.create(environmentId, { providerId: 'generic', name: 'bench' });
    await mailtrail.endpoints.create(environmentId, { url: `${hooks.url}/${dialect}`, eventTypes: ['email.delivered'] });

    // 1. Drain: every delivery is due when the worker starts.
    await ingest(mailtrail, environmentId, integration.id, events(DELIVERIES, 'drain'));
    const drain = worker(mailtrail);
    const started = performance.now();
    drain.start();
    await until(() => (hooks.arrivals.get(`/${dialect}`)?.length ?? 0) >= DELIVERIES);
    const rate = DELIVERIES / ((performance.now() - started) / 1000);
    await drain.stop();

    // 2. Fresh deliveries one at a time, first with an empty outbox, then behind a backlog of due retries to an
    // endpoint that always fails: the second should take no longer than the first.
    const fresh = worker(mailtrail);
    fresh.start();
    const idle = await freshLatencies(mailtrail, environmentId, integration.id, fresh, hooks, dialect, 'idle');
    const { endpoint: failing } = await mailtrail.endpoints.create(environmentId, { url: `${hooks.url}/failing`, eventTypes: ['email.opened'] });
    const opened = events(BACKLOG, 'backlog').map((event) => ({ ...event, status: 'opened' as const, nativeType: 'opened' }));
    await fresh.stop();
    await ingest(mailtrail, environmentId, integration.id, opened);
    // make the whole backlog retries that are due now (one failed attempt each)
    await markAsRetries(dialect, dir, schema, failing.id);
    fresh.start();
    const behind = await freshLatencies(mailtrail, environmentId, integration.id, fresh, hooks, dialect, 'behind');
    await fresh.stop();
    return { rate, idle, behind, backlogSent: hooks.arrivals.get('/failing')?.length ?? 0 };
  } finally {
    await mailtrail.close();
    await dropBenchData(dialect, POSTGRES_URL, schema, dir);
  }
}

/** From ingest to arrival; `ingestP50` is the part spent in the ingest transaction itself. */
interface Latencies {
  p50: number;
  p99: number;
  ingestP50: number;
}

/** Ingests 20 events one at a time and measures each one's time from ingest to its arrival at the receiver. */
async function freshLatencies(mailtrail: Mailtrail, environmentId: string, integrationId: string, running: DeliveryWorker, hooks: Receiver, dialect: string, label: string): Promise<Latencies> {
  const path = `/${dialect}`;
  const arrivedBefore = hooks.arrivals.get(path)?.length ?? 0;
  const latencies: number[] = [];
  const ingests: number[] = [];
  for (let round = 0; round < 20; round++) {
    const sentAt = performance.now();
    await ingest(mailtrail, environmentId, integrationId, events(1, `fresh-${label}-${round}`));
    ingests.push(performance.now() - sentAt);
    running.wake();
    await until(() => (hooks.arrivals.get(path)?.length ?? 0) >= arrivedBefore + round + 1, 60_000);
    latencies.push(hooks.arrivals.get(path)!.at(-1)! - sentAt);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  return { p50: p50(latencies), p99: Math.max(...latencies), ingestP50: p50(ingests) };
}

/** Turns an endpoint's pending deliveries into retries due now (attempts = 1), as after an outage. */
async function markAsRetries(dialect: 'sqlite' | 'postgres', dir: string, schema: string, endpointId: string): Promise<void> {
  const sql = `update deliveries set attempts = 1, next_attempt_at = ${Date.now() - 1000} where endpoint_id = '${endpointId}'`;
  if (dialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` });
    await pool.query(sql);
    await pool.end();
  } else {
    const db = new Database(join(dir, 'mailtrail.db'));
    db.exec(sql);
    db.close();
  }
}

export async function benchOutbound(dialects: ('sqlite' | 'postgres')[]): Promise<string> {
  const hooks = await receiver();
  try {
    const body = JSON.stringify({ type: 'email.delivered', timestamp: new Date().toISOString(), data: { event: events(1, 'size')[0], message: { state: {} } } }).padEnd(1400, ' ');
    const floor = await signedPostFloor(hooks.url, body);
    const rows: (string | number)[][] = [['', 'deliveries/s', 'vs floor', 'fresh p50 / p99 (ingest p50) ms, empty outbox', `… behind ${BACKLOG} retries`, 'retries sent meanwhile']];
    rows.push([`floor: bare signed POST loop, ${CONNECTIONS} connections`, floor, '', '', '', '']);
    const ms = ({ p50, p99, ingestP50 }: Latencies) => `${p50.toFixed(1)} / ${p99.toFixed(1)} (${ingestP50.toFixed(1)})`;
    for (const dialect of dialects) {
      const sentBefore = hooks.arrivals.get('/failing')?.length ?? 0;
      const result = await runDialect(dialect, hooks);
      result.backlogSent -= sentBefore;
      rows.push([`mailtrail outbox → receiver, ${dialect}`, result.rate, `${((result.rate / floor) * 100).toFixed(0)} %`, ms(result.idle), ms(result.behind), result.backlogSent]);
    }
    return [
      `bench/outbound: ${DELIVERIES} deliveries drained by one worker (${CONNECTIONS} in flight) to a local receiver; then 20 fresh events, one at a time (ingest to arrival), with an empty outbox and behind ${BACKLOG} due retries to a failing endpoint`,
      table(rows),
    ].join('\n');
  } finally {
    hooks.close();
  }
}
