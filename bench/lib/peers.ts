import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const peersDir = fileURLToPath(new URL('../peers/', import.meta.url));

/**
 * Loads a package the benchmarks compare against from bench/peers, installing bench/peers/package.json there on
 * first use. These packages are never dependencies of Mailtrail itself.
 */
export function requirePeer<T>(name: string): T {
  if (!existsSync(`${peersDir}node_modules/${name}/package.json`)) {
    process.stderr.write(`bench: installing comparison packages into bench/peers (first run only)…\n`);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], { cwd: peersDir, stdio: ['ignore', 'ignore', 'inherit'] });
  }
  return createRequire(`${peersDir}package.json`)(name) as T;
}
