// The depth bound's cost on the ingest hot path (issue 9): the scan of a 1,000-event SendGrid batch beside JSON.parse
// of the same bytes, the floor any JSON provider's request pays anyway. Run: npx tsx bench/json-depth.ts
import { nestsDeeperThan } from '../src/core/json-depth.js';

const event = {
  email: 'ada@example.com',
  timestamp: 1795258800,
  event: 'delivered',
  sg_message_id: 'abcdefghijklmnop.filter0001.1234.5678.0',
  category: ['onboarding', 'welcome'],
  smtp_id: '<14c5d75ce93.dfd.64b469@ismtpd-555>',
  response: '250 OK',
};
const body = Buffer.from('[' + Array.from({ length: 1000 }, (_, index) => JSON.stringify({ ...event, sg_event_id: `sg-${index}` })).join(',\r\n') + ']\r\n');
const text = body.toString('utf8');
const ROUNDS = 200;

function perCall(work: () => unknown): number {
  for (let warm = 0; warm < 20; warm++) work();
  const started = performance.now();
  for (let round = 0; round < ROUNDS; round++) work();
  return (performance.now() - started) / ROUNDS;
}

const scan = perCall(() => nestsDeeperThan(body));
const parse = perCall(() => JSON.parse(text));
console.log(`bench/json-depth: a 1,000-event SendGrid batch (${(body.length / 1024).toFixed(0)} KB), ${ROUNDS} rounds`);
console.log(`floor: JSON.parse of the body          ${parse.toFixed(3)} ms`);
console.log(`depth scan of the body (bytes)         ${scan.toFixed(3)} ms  (${((scan / parse) * 100).toFixed(0)} % of JSON.parse)`);
