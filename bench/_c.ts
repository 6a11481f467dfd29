import { sendgrid } from '../src/providers/sendgrid.js';
import { makeBatch } from './ingest.js';
const events = sendgrid.parse({ rawBody: Buffer.from(makeBatch(1)), headers: new Map(), url: '', contentType: 'application/json', receivedAt: Date.now() });
for (let r = 0; r < 3; r++) { const t = performance.now(); for (let i = 0; i < 10; i++) structuredClone(events); console.log('clone parsed ms', ((performance.now() - t) / 10).toFixed(1)); }
const compact = events.map((e, i) => [`evt_${i}xxxxxxxxxxxxxxxxxxxxxx`, 'msg_xxxxxxxxxxxxxxxxxxxxxxxxx', 0]);
let t = performance.now(); for (let i = 0; i < 10; i++) structuredClone(compact); console.log('clone compact ms', ((performance.now() - t) / 10).toFixed(1));
