// bench/parsers: one SendGrid batch read by Mailtrail's adapter and by the published @novu/providers SendGrid
// parser (getMessageId, then parseEventBody for each id, the way the notification platform calls it).
import { sendgrid } from '../src/providers/sendgrid.js';
import { makeBatch } from './ingest.js';
import { requirePeer } from './lib/peers.js';
import { table } from './lib/report.js';

interface NovuSendgrid {
  getMessageId(body: unknown): (string | undefined)[];
  parseEventBody(body: unknown, identifier: string | undefined): { status: string; date: string; row: Record<string, unknown> } | undefined;
}

const ROUNDS = 20;

export async function benchParsers(): Promise<string> {
  const { SendgridEmailProvider } = requirePeer<{ SendgridEmailProvider: new (options: Record<string, string>) => NovuSendgrid }>('@novu/providers');
  const novu = new SendgridEmailProvider({ apiKey: 'SG.unused', from: 'bench@example.com', senderName: 'bench' });
  const raw = makeBatch(0);
  const request = { rawBody: Buffer.from(raw), headers: new Map<string, string>(), url: '', contentType: 'application/json', receivedAt: Date.now(), settings: {} };
  const sourceEvents = JSON.parse(raw) as Record<string, unknown>[];

  const ours = sendgrid.parse(request);
  let started = performance.now();
  for (let round = 0; round < ROUNDS; round++) sendgrid.parse(request);
  const oursMs = (performance.now() - started) / ROUNDS;

  // The platform hands the parser a JSON body, so its JSON.parse is timed too.
  const theirs = novu.getMessageId(JSON.parse(raw)).map((id) => novu.parseEventBody(JSON.parse(raw), id));
  started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    const body = JSON.parse(raw);
    for (const id of novu.getMessageId(body)) novu.parseEventBody(body, id);
  }
  const theirsMs = (performance.now() - started) / ROUNDS;

  const providerTime = (date: string | undefined) => date !== undefined && sourceEvents.some((event) => Number(event.timestamp) * 1000 === Date.parse(date));
  const novuRow = (label: string, results: ReturnType<NovuSendgrid['parseEventBody']>[], source: unknown[], ms: number) => {
    const returned = results.filter((event) => event !== undefined);
    const distinct = new Set(returned.map((event) => source.indexOf(event!.row))).size;
    return [label, ms, returned.length, distinct, returned.length > 0 && returned.every((event) => providerTime(event!.date)) ? 'yes' : 'no'];
  };
  // The same batch with its first event moved to the end, so the batch starts with a mapped (delivered) event.
  const rotated = [...sourceEvents.slice(1), sourceEvents[0]];
  const rotatedResults = novu.getMessageId(rotated).map((id) => novu.parseEventBody(rotated, id));
  const rows: (string | number)[][] = [
    ['', 'ms/batch', 'events returned', 'distinct events', 'provider time'],
    ['mailtrail sendgrid.parse (raw bytes)', oursMs, ours.length, new Set(ours.map((event) => event.dedupeKey)).size, ours.every((event) => event.occurredAt === Number(JSON.parse(event.raw).timestamp) * 1000) ? 'yes' : 'no'],
    novuRow('@novu/providers SendgridEmailProvider', theirs, sourceEvents, theirsMs),
    novuRow('  same, batch starting with a delivered event', rotatedResults, rotated, Number.NaN),
  ];
  return [
    `bench/parsers: one SendGrid batch of ${sourceEvents.length} events (processed, delivered, open, click for 250 messages), ${ROUNDS} rounds`,
    table(rows),
    '@novu/providers reads `id` from each event, a field SendGrid does not send, so every lookup finds the first event of the',
    'batch: a batch that starts with `processed` (unmapped there) yields nothing, any other yields 1,000 copies of its first',
    'event. Its `date` is the time of parsing, not of the event.',
  ].join('\n');
}
