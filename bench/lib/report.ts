import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LoadResult {
  requests: number;
  durationMs: number;
  p50: number;
  p99: number;
  statuses: Record<string, number>;
}

const generator = fileURLToPath(new URL('./load-generator.ts', import.meta.url));

/** A POST of `body` to the load's URL, or a GET of `path` (on the same host) when set. */
export interface LoadRequest {
  body: string;
  headers: Record<string, string>;
  path?: string;
}

/** Runs the load generator in its own process against `url`. */
export function runLoad(url: string, requests: LoadRequest[], concurrency: number): Promise<LoadResult> {
  const planFile = join(tmpdir(), `mailtrail-bench-${process.pid}-${Date.now()}.json`);
  writeFileSync(planFile, JSON.stringify({ url, concurrency, requests }));
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', generator, planFile], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`load generator failed: ${stderr || error.message}`));
      else resolve(JSON.parse(stdout) as LoadResult);
    });
  });
}

export function table(rows: (string | number)[][]): string {
  const text = rows.map((row) => row.map((cell) => (typeof cell === 'number' ? format(cell) : cell)));
  const widths = text[0]!.map((_, column) => Math.max(...text.map((row) => row[column]!.length)));
  return text.map((row) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ')).join('\n');
}

function format(value: number): string {
  if (Number.isNaN(value)) return '';
  if (value >= 100 || Number.isInteger(value)) return Math.round(value).toLocaleString('en-US');
  return value.toFixed(value >= 10 ? 1 : 2);
}
