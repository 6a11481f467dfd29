import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './receiver.js';

const run = promisify(execFile);

/** Debian's PostgreSQL binaries, the newest version installed; null when there are none. */
export function postgresBinaries(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] ? join(root, versions[0], 'bin') : null;
}

export interface PgCluster {
  /** postgres://… to its `postgres` database over TCP. */
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: every session is terminated (57P01), as in an operator's restart. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it if it runs and removes its directory. */
  destroy(): Promise<void>;
}

/**
 * A throwaway PostgreSQL cluster on a port of its own, in a temporary directory. initdb refuses to run as root, so
 * as root the cluster belongs to the `postgres` user and its commands run as that user.
 */
export async function startCluster(bin: string): Promise<PgCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'mailtrail-pg-'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const owner = (flag: '-u' | '-g') => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, owner('-u'), owner('-g'));
  }
  const command = (name: string, args: string[]) =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, name), ...args]) : run(join(bin, name), args);
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    await command('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // durability does not matter for a cluster that lives for one test; speed does, on a shared two-core machine
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  let running = false;
  const cluster: PgCluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await command('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
      running = false;
    },
    async start() {
      try {
        await command('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', 'start']);
      } catch (error) {
        const log = existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8') : '';
        throw new Error(`pg_ctl start failed: ${(error as Error).message}\n${log}`);
      }
      running = true;
    },
    async destroy() {
      if (running) await cluster.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await cluster.start().catch(async (error: unknown) => {
    await cluster.destroy();
    throw error;
  });
  return cluster;
}
