// bench/engagement: first-party hits (issue 10). Pixel and click requests over loopback from a separate process (16
// keep-alive connections), spread over 500 registered messages of several links each with browser-like headers, on
// SQLite and PostgreSQL, each beside a bare node:http server answering the same GIF (or the same 302) in the same
// run; every hit is then counted in the store. And the instrumenter's throughput on a ~100 KB newsletter made of
// published email HTML, beside htmlparser2's tokenizer over the same bytes with no handlers.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Tokenizer } from 'htmlparser2';
import pg from 'pg';
import { createMailtrail, type Mailtrail } from '../src/index.js';
import { TRANSPARENT_GIF } from '../src/http/routes/tracking.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { dropBenchData } from './lib/cleanup.js';
import { runLoad, table, type LoadRequest, type LoadResult } from './lib/report.js';

type Dialect = 'sqlite' | 'postgres';
type Kind = 'open' | 'click';

const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const HITS = Number(process.env.BENCH_HITS ?? 8000);
const WARMUP_HITS = 1500;
const CONCURRENCY = 16;
// A campaign's hits are spread over its messages: each of 4,000 messages is opened and clicked a few times in the run.
// With 500, each message got a hit every 0.2 s, which no real campaign does, and every hit had burst neighbours
// (BENCH_MESSAGES=500 measures that case).
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 4000);
const LINKS = 4;
const TARGET_SHARE = 0.5;
const TARGET_P99_MS = 10;
const EMAIL_HTML = new URL('../../shared/email-html/', import.meta.url);
const NEWSLETTER_BYTES = 100_000;

/** What mail clients send when they load an image or follow a link: desktop and phone browsers, Apple Mail, Outlook. */
const CLIENTS: Record<string, string>[] = [
  {
    'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
    accept: 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8',
    'accept-language': 'en-GB,en;q=0.9',
  },
  {
    'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)',
    accept: 'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
    'accept-language': 'fr-FR,fr;q=0.9',
  },
  {
    'user-agent': 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
    accept: 'image/webp,image/avif,image/jxl,image/heic,image/heic-sequence,video/*;q=0.8,image/png,image/svg+xml,image/*;q=0.8,*/*;q=0.5',
    'accept-language': 'en-US,en;q=0.9',
  },
  {
    'user-agent': 'Mozilla/4.0 (compatible; ms-office; MSOffice 16)',
    accept: 'image/*, */*',
    'accept-language': 'de-DE',
  },
  {
    'user-agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
    accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
    'accept-language': 'en-US,en;q=0.5',
  },
];

interface Links {
  pixels: string[];
  clicks: string[][];
}

/** `count` hits of one kind, message after message in a scattered order, each from one of the clients. */
function hitRequests(links: Links, kind: Kind, count: number, offset: number): LoadRequest[] {
  return Array.from({ length: count }, (_, index) => {
    const i = offset + index;
    // 7,919 is prime, so consecutive hits go to messages far apart and every message gets its share
    const message = (i * 7919) % MESSAGES;
    const path = kind === 'open' ? links.pixels[message]! : links.clicks[message]![i % LINKS]!;
    return { body: '', path, headers: CLIENTS[i % CLIENTS.length]! };
  });
}

/** A message's HTML: a short newsletter with LINKS links. */
function messageHtml(message: number): string {
  const items = Array.from({ length: LINKS }, (_, link) => `<p><a href="https://shop.example.com/m/${message}/item-${link}?utm_source=newsletter&amp;utm_medium=email">Item ${link}</a></p>`);
  return `<!doctype html><html><body><h1>News ${message}</h1>${items.join('')}</body></html>`;
}

/** Registers MESSAGES messages and instruments each: the paths of its pixel and of its tracked links. */
async function registerMessages(mailtrail: Mailtrail, environmentId: string): Promise<Links> {
  const { integration } = await mailtrail.integrations.create(environmentId, { providerId: 'sendgrid', name: 'bench', allowUnsigned: true });
  const links: Links = { pixels: [], clicks: [] };
  for (let message = 0; message < MESSAGES; message++) {
    const id = `bench-${message}`;
    await mailtrail.store.registerMessage({ environmentId, integrationId: integration.id, provider: 'sendgrid', id, recipient: `user${message}@example.com`, subject: `News ${message}` }, Date.now());
    const { html } = mailtrail.instrument({ messageId: id, environmentId, html: messageHtml(message) });
    const paths = [...html!.matchAll(/https?:\/\/[^/]+(\/track\/(open|click)\/[\w-]+)/g)];
    links.pixels.push(paths.find((match) => match[2] === 'open')![1]!);
    links.clicks.push(paths.filter((match) => match[2] === 'click').map((match) => match[1]!));
  }
  return links;
}

/** The floor: a bare node:http server answering every request with the route's answer, and nothing else. */
async function bareFloor(kind: Kind, requests: LoadRequest[]): Promise<LoadResult> {
  const gif = new Uint8Array(TRANSPARENT_GIF);
  const server = createServer((_request, response) => {
    if (kind === 'open') {
      response
        .writeHead(200, { 'content-type': 'image/gif', 'content-length': gif.length, 'cache-control': 'no-store, no-cache, must-revalidate, max-age=0', pragma: 'no-cache', expires: '0' })
        .end(gif);
    } else {
      response.writeHead(302, { location: 'https://shop.example.com/m/1/item-0?utm_source=newsletter&utm_medium=email', 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await runLoad(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests, CONCURRENCY);
  } finally {
    server.close();
  }
}

/** First-party hits in the store, by kind, read with SQL beside the store after it closed. */
async function storedHits(dialect: Dialect, dir: string, schema: string): Promise<Record<Kind, number>> {
  const query = "select status, count(*) as n from events where origin = 'first-party' group by status";
  let rows: { status: string; n: number | string }[];
  if (dialect === 'sqlite') {
    const db = new Database(join(dir, 'mailtrail.db'), { readonly: true });
    rows = db.prepare(query).all() as typeof rows;
    db.close();
  } else {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` });
    rows = (await pool.query<{ status: string; n: string }>(query)).rows;
    await pool.end();
  }
  const count = (status: string) => Number(rows.find((row) => row.status === status)?.n ?? 0);
  return { open: count('opened'), click: count('clicked') };
}

/**
 * Gathers PostgreSQL's planner statistics, as autovacuum does on a live database within its first minute: the run
 * is shorter than that, and on a table never analyzed the planner joins a batch of hits against a full scan of the
 * events (the hit path's own queries are written not to depend on it, see store/postgres/ingest-ops.ts).
 */
async function analyze(schema: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` });
  await pool.query('analyze events; analyze messages');
  await pool.end();
}

interface Measured {
  result: LoadResult;
  /** Server CPU (user + system) per 1,000 hits, ms. */
  cpuPerThousand: number;
}

async function measure(url: string, requests: LoadRequest[]): Promise<Measured> {
  const before = process.cpuUsage();
  const result = await runLoad(url, requests, CONCURRENCY);
  const cpu = process.cpuUsage(before);
  return { result, cpuPerThousand: (cpu.user + cpu.system) / 1000 / (requests.length / 1000) };
}

/** Both kinds of hits against one store; fails when a request was not answered as it should be or a hit is missing. */
async function mailtrailHits(dialect: Dialect): Promise<{ runs: Record<Kind, Measured>; stored: Record<Kind, number>; sent: Record<Kind, number>; peakRssMb: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-bench-'));
  const schema = `bench_engagement_${process.pid}`;
  const mailtrail = await createMailtrail({ secret: generateMasterSecret(), dataDir: dir, ...(dialect === 'postgres' ? { databaseUrl: POSTGRES_URL, databaseSchema: schema } : {}) });
  let closed = false;
  try {
    const { environmentId } = await mailtrail.createEnvironment('bench');
    const links = await registerMessages(mailtrail, environmentId);
    const server = await mailtrail.listen({ port: 0, host: '127.0.0.1' });
    const sent: Record<Kind, number> = { open: 0, click: 0 };
    const runs = {} as Record<Kind, Measured>;
    // Warm-up of both routes, so the measured runs do not pay for V8 compiling the server's code.
    for (const kind of ['open', 'click'] as const) {
      const warm = await runLoad(server.url, hitRequests(links, kind, WARMUP_HITS, 1_000_000), CONCURRENCY);
      sent[kind] += answered(warm, kind, WARMUP_HITS);
    }
    if (dialect === 'postgres') await analyze(schema);
    for (const kind of ['open', 'click'] as const) {
      runs[kind] = await measure(server.url, hitRequests(links, kind, HITS, 0));
      sent[kind] += answered(runs[kind].result, kind, HITS);
    }
    // close() must store every hit still waiting for its commit: the count is taken after it.
    await mailtrail.close();
    closed = true;
    const stored = await storedHits(dialect, dir, schema);
    return { runs, stored, sent, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  } finally {
    if (!closed) await mailtrail.close();
    await dropBenchData(dialect, POSTGRES_URL, schema, dir);
  }
}

function answered(result: LoadResult, kind: Kind, expected: number): number {
  const status = kind === 'open' ? '200' : '302';
  if (result.statuses[status] !== expected) throw new Error(`engagement bench: ${expected} ${kind} requests were answered ${JSON.stringify(result.statuses)}`);
  return expected;
}

/** A ~100 KB newsletter: the bodies of the published emails in ../shared/email-html/, largest first, in one document. */
export function newsletterHtml(): string {
  const bodies: string[] = [];
  let size = 0;
  const files = readdirSync(EMAIL_HTML).filter((name) => name.endsWith('.html'));
  const sources = files.map((name) => readFileSync(new URL(name, EMAIL_HTML), 'utf8')).sort((a, b) => b.length - a.length);
  for (const source of sources) {
    if (size >= NEWSLETTER_BYTES) break;
    const body = /<body[^>]*>([\s\S]*)<\/body>/i.exec(source)?.[1] ?? source;
    bodies.push(body);
    size += body.length;
  }
  return `<!doctype html><html><head><meta charset="utf-8"><title>Newsletter</title></head><body>${bodies.join('\n')}</body></html>`;
}

/** MB/s of `run` over `bytes`, timed over about a second after a warm-up. */
function throughput(bytes: number, run: () => void): number {
  for (let i = 0; i < 20; i++) run();
  let rounds = 0;
  const started = performance.now();
  while (performance.now() - started < 1000) {
    run();
    rounds++;
  }
  return (bytes * rounds) / 1e6 / ((performance.now() - started) / 1000);
}

const noop = () => undefined;
const NO_HANDLERS = {
  onattribdata: noop,
  onattribentity: noop,
  onattribend: noop,
  onattribname: noop,
  oncdata: noop,
  onclosetag: noop,
  oncomment: noop,
  ondeclaration: noop,
  onend: noop,
  onopentagend: noop,
  onopentagname: noop,
  onprocessinginstruction: noop,
  onselfclosingtag: noop,
  ontext: noop,
  ontextentity: noop,
};

async function benchInstrumenter(): Promise<string> {
  const html = newsletterHtml();
  const bytes = Buffer.byteLength(html);
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-bench-'));
  const mailtrail = await createMailtrail({ secret: generateMasterSecret(), dataDir: dir, tracking: { baseUrl: 'https://t.example.com' } });
  try {
    const options = { messageId: 'newsletter-1', environmentId: 'env_bench', html };
    const links = (mailtrail.instrument(options).html!.match(/\/track\/click\//g) ?? []).length;
    const rate = throughput(bytes, () => mailtrail.instrument(options));
    const floor = throughput(bytes, () => {
      const tokenizer = new Tokenizer({}, NO_HANDLERS);
      tokenizer.write(html);
      tokenizer.end();
    });
    return [
      `instrumenter: a ${(bytes / 1000).toFixed(0)} KB newsletter of published email HTML (${links} tracked links and the pixel), mailtrail.instrument() including the sealed tokens`,
      table([
        ['', 'MB/s', 'vs floor'],
        ["floor: htmlparser2's tokenizer, no handlers", floor, ''],
        ['mailtrail.instrument()', rate, `${((rate / floor) * 100).toFixed(0)} %`],
      ]),
    ].join('\n');
  } finally {
    await mailtrail.close();
    await dropBenchData('sqlite', POSTGRES_URL, '', dir);
  }
}

export async function benchEngagement(dialects: Dialect[]): Promise<string> {
  const lines = [`bench/engagement: ${HITS} pixel and ${HITS} click requests (after ${WARMUP_HITS} of each to warm up) over ${MESSAGES} registered messages × ${LINKS} links, ${CONCURRENCY} keep-alive connections from a separate process`];
  const rows: (string | number)[][] = [['', 'requests/s', 'p50 ms', 'p99 ms', 'vs floor', 'CPU ms/1k hits', 'target met']];
  const floors = {} as Record<Kind, number>;
  const probe: Links = { pixels: Array<string>(MESSAGES).fill('/track/open/x'), clicks: Array.from({ length: MESSAGES }, () => Array<string>(LINKS).fill('/track/click/x')) };
  for (const kind of ['open', 'click'] as const) {
    await bareFloor(kind, hitRequests(probe, kind, WARMUP_HITS, 0));
    const floor = await bareFloor(kind, hitRequests(probe, kind, HITS, 0));
    floors[kind] = floor.requests / (floor.durationMs / 1000);
    rows.push([`floor: bare node:http, ${kind === 'open' ? 'the GIF' : 'the 302'}`, floors[kind], floor.p50, floor.p99, '', '', '']);
  }
  const failures: string[] = [];
  const counts: string[] = [];
  for (const dialect of dialects) {
    const { runs, stored, sent, peakRssMb } = await mailtrailHits(dialect);
    for (const kind of ['open', 'click'] as const) {
      const { result, cpuPerThousand } = runs[kind];
      const rate = result.requests / (result.durationMs / 1000);
      const met = rate >= TARGET_SHARE * floors[kind] && result.p99 < TARGET_P99_MS;
      rows.push([`mailtrail ${kind === 'open' ? 'pixel' : 'click'}, ${dialect}`, rate, result.p50, result.p99, `${((rate / floors[kind]) * 100).toFixed(0)} %`, cpuPerThousand, met ? 'yes' : 'NO']);
      counts.push(`${dialect} ${kind}: ${stored[kind]}/${sent[kind]} hits stored`);
      if (stored[kind] !== sent[kind]) failures.push(`${dialect}: ${sent[kind] - stored[kind]} of ${sent[kind]} ${kind} hits are not in the store`);
    }
    counts.push(`${dialect}: peak RSS of the bench process (the server runs in it) so far ${peakRssMb.toFixed(0)} MB`);
  }
  lines.push(table(rows), `targets: ≥ ${TARGET_SHARE * 100} % of the floor's requests/s and p99 < ${TARGET_P99_MS} ms`, ...counts, '', await benchInstrumenter());
  if (failures.length > 0) throw new Error(`engagement bench lost hits:\n${failures.join('\n')}\n\n${lines.join('\n')}`);
  return lines.join('\n');
}
