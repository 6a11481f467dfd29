// npm run bench: every benchmark, each printed beside the floor it is compared with.
// BENCH_ONLY=ingest,resend,outbound,parsers,engagement,classifier narrows the run; BENCH_DIALECTS=sqlite skips PostgreSQL.

const only = (process.env.BENCH_ONLY ?? 'ingest,resend,outbound,parsers,engagement,classifier').split(',');
const dialects = (process.env.BENCH_DIALECTS ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];

console.log(`mailtrail bench — node ${process.version}, ${new Date().toISOString()}\n`);
if (only.includes('ingest')) console.log((await (await import('./ingest.js')).benchIngest(dialects)) + '\n');
if (only.includes('resend')) console.log((await (await import('./ingest.js')).benchResend(dialects)) + '\n');
if (only.includes('outbound')) console.log((await (await import('./outbound.js')).benchOutbound(dialects)) + '\n');
if (only.includes('parsers')) console.log((await (await import('./parsers.js')).benchParsers()) + '\n');
if (only.includes('engagement')) console.log((await (await import('./engagement.js')).benchEngagement(dialects)) + '\n');
if (only.includes('classifier')) console.log((await import('./classifier.js')).benchClassifier() + '\n');
