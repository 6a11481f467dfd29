import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';
import { SqliteWorkerClient } from './sqlite/client.js';
import { WorkerSqliteDialect, WorkerSqliteDriver } from './sqlite/dialect.js';
import type { Store } from './types.js';
import { toIngestResults } from './ingest.js';
import { expandIngest, type CompactIngest } from './sqlite/protocol.js';

export interface SqliteStoreOptions {
  /** A file path. */
  filename: string;
  /** How long a statement waits for another process's write lock before failing. Default 5 s. */
  busyTimeoutMs?: number | undefined;
}

/**
 * The embedded store: one better-sqlite3 connection in WAL mode with `synchronous=FULL`, on a thread of its own,
 * so a committed batch survives a power cut before Mailtrail acknowledges it and SQLite never blocks HTTP.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const filename = resolve(options.filename);
  mkdirSync(dirname(filename), { recursive: true });
  const client = new SqliteWorkerClient(filename, options.busyTimeoutMs ?? 5000);
  const driver = new WorkerSqliteDriver(client);
  const db = new Kysely<Database>({ dialect: new WorkerSqliteDialect(driver) });
  return new KyselyStore({
    dialect: 'sqlite',
    db,
    // The whole batch is one transaction that the SQLite thread runs in one go, queued behind any other batch.
    ingest: async (batch) => {
      const compact = await driver.shared(() => client.request<CompactIngest>({ kind: 'ingest', batch }));
      return toIngestResults(expandIngest(batch, compact));
    },
  });
}
