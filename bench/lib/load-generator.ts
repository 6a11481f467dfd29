// A separate process that sends prepared requests over loopback and reports latencies as JSON on stdout.
// A request is a POST of its body to the plan's URL, or a GET of its own path when it names one.
// Usage: node --import tsx bench/lib/load-generator.ts <plan.json>
import { readFileSync } from 'node:fs';
import http from 'node:http';

interface Plan {
  url: string;
  concurrency: number;
  requests: { body: string; headers: Record<string, string>; path?: string }[];
}

const plan = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Plan;
const target = new URL(plan.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: plan.concurrency });
const latencies: number[] = [];
const statuses: Record<string, number> = {};
let next = 0;

function post(index: number): Promise<void> {
  const { body, headers, path } = plan.requests[index]!;
  const payload = path === undefined ? Buffer.from(body) : null;
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const request = http.request(
      payload === null
        ? { host: target.hostname, port: target.port, path, method: 'GET', agent, headers }
        : { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': payload.length } },
      (response) => {
        response.resume();
        response.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          statuses[response.statusCode!] = (statuses[response.statusCode!] ?? 0) + 1;
          resolve();
        });
      },
    );
    request.on('error', reject);
    if (payload === null) request.end();
    else request.end(payload);
  });
}

async function worker(): Promise<void> {
  while (next < plan.requests.length) await post(next++);
}

const started = performance.now();
await Promise.all(Array.from({ length: plan.concurrency }, worker));
const durationMs = performance.now() - started;
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!;
process.stdout.write(JSON.stringify({ requests: latencies.length, durationMs, p50: at(0.5), p99: at(0.99), statuses }) + '\n');
