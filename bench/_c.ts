import { sendgrid } from '../src/providers/sendgrid.js';
import { makeBatch } from './ingest.js';
const events = sendgrid.parse({ rawBody: Buffer.from(makeBatch(1)), headers: new Map(), url: '', contentType: 'application/json', receivedAt: Date.now() });
const keys = Object.keys(events[0]!);
const tuples = events.map((e) => keys.map((k) => (e as any)[k]));
const json = () => JSON.stringify(events);
for (const [name, f] of [['objects', () => structuredClone(events)], ['tuples', () => structuredClone(tuples)], ['json str', () => structuredClone(json())], ['json parse', () => JSON.parse(json())]] as const) {
  f(); const t = performance.now(); for (let i = 0; i < 20; i++) f(); console.log(name, ((performance.now() - t) / 20).toFixed(2));
}
