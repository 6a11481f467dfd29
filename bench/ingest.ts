// bench/ingest: signed SendGrid batches of 1,000 events posted over loopback by a separate process, on SQLite
// and on PostgreSQL, beside two floors measured in the same run: a bare node:http server reading the same bodies,
// and raw inserts of the same rows into the same database with the same transaction size.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createMailtrail } from '../src/index.js';
import { newId } from '../src/core/ids.js';
import { sendgrid } from '../src/providers/sendgrid.js';
import { standardWebhooksKey, standardWebhooksSignature } from '../src/providers/standard-webhooks.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { newEventRow } from '../src/store/ingest.js';
import type { EventRow } from '../src/store/schema.js';
import { createPostgresStore, createSqliteStore } from '../src/store/index.js';
import { configureSqlite } from '../src/store/sqlite/pragmas.js';
import { sendgridBatch, sendgridKeys, signSendgrid } from '../test/helpers/server.js';
import { dropBenchData } from './lib/cleanup.js';
import { runLoad, table, type LoadResult } from './lib/report.js';

const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const BATCHES = Number(process.env.BENCH_BATCHES ?? 40);
const EVENTS_PER_BATCH = 1000;
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
const WARMUP_BATCHES = 10;
const keys = sendgridKeys();

/** A realistic batch: 250 messages, each processed, delivered, opened, clicked. */
export function makeBatch(batch: number): string {
  const events = [];
  for (let i = 0; i < EVENTS_PER_BATCH; i++) {
    const message = Math.floor(i / 4);
    const type = ['processed', 'delivered', 'open', 'click'][i % 4]!;
    events.push({
      email: `user${message}@example.com`,
      timestamp: 1_700_000_000 + batch * 10 + (i % 4),
      'smtp-id': `<B${batch}M${message}@ismtpd0001p1iad2.sendgrid.net>`,
      event: type,
      category: ['newsletter'],
      sg_event_id: `ev-${batch}-${i}`,
      sg_message_id: `B${batch}M${message}Xq2lQ3rT.filterdrecv-5d9f8c7b6-abcde-1-6560C7A0-12.0`,
      ...(type === 'delivered' ? { response: '250 2.0.0 OK  1700000000 x1si123456qkb.12 - gsmtp' } : {}),
      ...(type === 'open' || type === 'click' ? { useragent: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15', ip: '203.0.113.7' } : {}),
      ...(type === 'click' ? { url: 'https://example.com/welcome?utm_source=newsletter', url_offset: { index: 0, type: 'html' } } : {}),
    });
  }
  return sendgridBatch(events);
}

function requestsFor(bodies: string[]) {
  return bodies.map((body) => ({ body, headers: signSendgrid(keys.privateKey, body) }));
}

/** The floor: a bare node:http server that reads each body and answers 200, posted the same requests. */
async function bareHttpFloor(requests: { body: string; headers: Record<string, string> }[], concurrency: number): Promise<LoadResult> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      Buffer.concat(chunks);
      response.writeHead(200, { 'content-type': 'application/json' }).end('[]');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    return await runLoad(`http://127.0.0.1:${port}/`, requests, concurrency);
  } finally {
    server.close();
  }
}

function rowsFor(bodies: string[]): EventRow[][] {
  return bodies.map((body) =>
    sendgrid
      .parse({ rawBody: Buffer.from(body), headers: new Map(), url: '', contentType: 'application/json', receivedAt: Date.now(), settings: {} })
      .map((event) => newEventRow({ environmentId: 'env_bench', integrationId: 'int_bench', provider: 'sendgrid', receivedAt: Date.now(), events: [] }, event, newId('evt'), 'msg_bench')),
  );
}

/** Raw inserts into the same schema, one transaction per batch: what a database can take with no logic at all. */
async function rawInsertFloor(dialect: 'sqlite' | 'postgres', batches: EventRow[][]): Promise<number> {
  const columns = Object.keys(batches[0]![0]!) as (keyof EventRow)[];
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-bench-floor-'));
    const store = createSqliteStore({ filename: join(dir, 'mailtrail.db') });
    await store.migrate();
    await store.close();
    const db = new Database(join(dir, 'mailtrail.db'));
    configureSqlite(db);
    const insert = db.prepare(`insert into events (${columns.join(', ')}) values (${columns.map(() => '?').join(', ')})`);
    const insertBatch = db.transaction((rows: EventRow[]) => {
      for (const row of rows) insert.run(columns.map((column) => row[column]));
    });
    const started = performance.now();
    for (const rows of batches) insertBatch(rows);
    const seconds = (performance.now() - started) / 1000;
    db.close();
    rmSync(dir, { recursive: true, force: true });
    return (batches.length * EVENTS_PER_BATCH) / seconds;
  }
  const schema = `bench_floor_${process.pid}`;
  const store = createPostgresStore({ connectionString: POSTGRES_URL, schema });
  await store.migrate();
  await store.close();
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: CONCURRENCY, options: `-c search_path=${schema}` });
  const started = performance.now();
  // the same concurrency as the HTTP load, one transaction per batch, one multi-row insert per transaction
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const client = await pool.connect();
      try {
        while (next < batches.length) {
          const rows = batches[next++]!;
          const values: unknown[] = [];
          const tuples = rows.map((row, r) => `(${columns.map((column, c) => (values.push(row[column]), `$${r * columns.length + c + 1}`)).join(', ')})`);
          await client.query('begin');
          await client.query(`insert into events (${columns.join(', ')}) values ${tuples.join(', ')}`, values);
          await client.query('commit');
        }
      } finally {
        client.release();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await pool.query(`drop schema ${schema} cascade`);
  await pool.end();
  return (batches.length * EVENTS_PER_BATCH) / seconds;
}

async function mailtrailIngest(dialect: 'sqlite' | 'postgres', bodies: string[]): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-bench-'));
  const schema = `bench_ingest_${process.pid}`;
  const mailtrail = await createMailtrail({
    secret: generateMasterSecret(),
    dataDir: dir,
    ...(dialect === 'postgres' ? { databaseUrl: POSTGRES_URL, databaseSchema: schema } : {}),
  });
  try {
    const { environmentId } = await mailtrail.createEnvironment('bench');
    const { integration } = await mailtrail.integrations.create(environmentId, { providerId: 'sendgrid', name: 'bench', signingKey: keys.publicKeyBase64 });
    const server = await mailtrail.listen({ port: 0, host: '127.0.0.1' });
    const url = `${server.url}/v2/inbound-webhooks/delivery-providers/${environmentId}/${integration.id}`;
    // Warm-up, so the measured run is not paying for V8 compiling the server's code on its background threads.
    await runLoad(url, requestsFor(Array.from({ length: WARMUP_BATCHES }, (_, i) => makeBatch(10_000 + i))), CONCURRENCY);
    const result = await runLoad(url, requestsFor(bodies), CONCURRENCY);
    const stored = await mailtrail.store.listEvents(environmentId, { limit: 1 });
    if (result.statuses['200'] !== bodies.length || stored.data.length === 0) throw new Error(`ingest bench saw ${JSON.stringify(result.statuses)}`);
    return result;
  } finally {
    await mailtrail.close();
    await dropBenchData(dialect, POSTGRES_URL, schema, dir);
  }
}

const RESEND_REQUESTS = Number(process.env.BENCH_RESEND_REQUESTS ?? 4000);
const RESEND_CONCURRENCY = 16;
const RESEND_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

/**
 * Resend's one-event requests: count/4 messages × sent, delivered, opened, clicked, each signed as Svix signs it.
 * A message's events are a quarter of the run apart, as they are in life (seconds to hours), so concurrent
 * requests are for different messages.
 */
function resendRequests(count: number, offset = 0): { body: string; headers: Record<string, string> }[] {
  const key = standardWebhooksKey(RESEND_SECRET)!;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const messages = Math.ceil(count / 4);
  return Array.from({ length: count }, (_, index) => {
    const i = offset + (index % messages) * 4 + Math.floor(index / messages);
    const type = ['email.sent', 'email.delivered', 'email.opened', 'email.clicked'][i % 4]!;
    const body = JSON.stringify({
      type,
      created_at: new Date(1_790_000_000_000 + i * 1000).toISOString(),
      data: {
        email_id: `re-${Math.floor(i / 4)}`,
        from: 'Acme <noreply@acme.example>',
        to: [`user${Math.floor(i / 4)}@example.com`],
        subject: 'Welcome to Acme',
        ...(type === 'email.clicked' ? { click: { ipAddress: '203.0.113.7', link: 'https://example.com/welcome', timestamp: new Date(1_790_000_000_000 + i * 1000).toISOString(), userAgent: 'Mozilla/5.0' } } : {}),
      },
    });
    const id = `msg_bench_${i}`;
    return { body, headers: { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': standardWebhooksSignature(key, id, timestamp, body) } };
  });
}

async function mailtrailResend(dialect: 'sqlite' | 'postgres', requests: { body: string; headers: Record<string, string> }[]): Promise<LoadResult> {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-bench-'));
  const schema = `bench_resend_${process.pid}`;
  const mailtrail = await createMailtrail({ secret: generateMasterSecret(), dataDir: dir, ...(dialect === 'postgres' ? { databaseUrl: POSTGRES_URL, databaseSchema: schema } : {}) });
  try {
    const { environmentId } = await mailtrail.createEnvironment('bench');
    const { integration } = await mailtrail.integrations.create(environmentId, { providerId: 'resend', name: 'bench', signingKey: RESEND_SECRET });
    const server = await mailtrail.listen({ port: 0, host: '127.0.0.1' });
    const url = `${server.url}/v2/inbound-webhooks/delivery-providers/${environmentId}/${integration.id}`;
    await runLoad(url, resendRequests(400, 1_000_000), RESEND_CONCURRENCY);
    const result = await runLoad(url, requests, RESEND_CONCURRENCY);
    if (result.statuses['200'] !== requests.length) throw new Error(`resend bench saw ${JSON.stringify(result.statuses)}`);
    return result;
  } finally {
    await mailtrail.close();
    await dropBenchData(dialect, POSTGRES_URL, schema, dir);
  }
}

/** Resend posts one event per request: the cost per request, beside a bare server reading the same requests. */
export async function benchResend(dialects: ('sqlite' | 'postgres')[]): Promise<string> {
  const requests = resendRequests(RESEND_REQUESTS);
  const lines = [`bench/ingest (Resend): ${RESEND_REQUESTS} signed one-event requests, ${RESEND_CONCURRENCY} connections from a separate process`];
  const rows: (string | number)[][] = [['', 'requests/s', 'p50 ms', 'p99 ms', 'vs floor']];
  const bare = await bareHttpFloor(requests, RESEND_CONCURRENCY);
  const bareRate = bare.requests / (bare.durationMs / 1000);
  rows.push(['floor: bare node:http reading the bodies', bareRate, bare.p50, bare.p99, '']);
  for (const dialect of dialects) {
    const result = await mailtrailResend(dialect, requests);
    const rate = result.requests / (result.durationMs / 1000);
    rows.push([`mailtrail ingest, ${dialect}`, rate, result.p50, result.p99, `${((rate / bareRate) * 100).toFixed(0)} %`]);
  }
  lines.push(table(rows));
  return lines.join('\n');
}

export async function benchIngest(dialects: ('sqlite' | 'postgres')[]): Promise<string> {
  const bodies = Array.from({ length: BATCHES }, (_, batch) => makeBatch(batch));
  const megabytes = bodies.reduce((sum, body) => sum + body.length, 0) / 1e6;
  const lines = [`bench/ingest: ${BATCHES} signed SendGrid batches × ${EVENTS_PER_BATCH} events (${megabytes.toFixed(1)} MB), ${CONCURRENCY} connections from a separate process`];
  const rows: (string | number)[][] = [['', 'events/s', 'p50 ms', 'p99 ms', 'vs lower floor']];

  const bare = await bareHttpFloor(requestsFor(bodies), CONCURRENCY);
  const bareRate = (bare.requests * EVENTS_PER_BATCH) / (bare.durationMs / 1000);
  rows.push(['floor: bare node:http reading the bodies', bareRate, bare.p50, bare.p99, '']);
  const parsedRows = rowsFor(bodies);
  for (const dialect of dialects) {
    const insertRate = await rawInsertFloor(dialect, parsedRows);
    rows.push([`floor: raw inserts, ${dialect}, 1,000 rows/transaction`, insertRate, '', '', '']);
    const result = await mailtrailIngest(dialect, bodies);
    const rate = (result.requests * EVENTS_PER_BATCH) / (result.durationMs / 1000);
    const lower = Math.min(bareRate, insertRate);
    rows.push([`mailtrail ingest, ${dialect}`, rate, result.p50, result.p99, `${((rate / lower) * 100).toFixed(0)} %`]);
  }
  lines.push(table(rows));
  return lines.join('\n');
}
