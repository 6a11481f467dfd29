import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { runIngest, toIngestResults } from './ingest.js';
import { KyselyStore } from './kysely-store.js';
import type { Database as Schema } from './schema.js';
import { SqliteIngestOps } from './sqlite/ingest-ops.js';
import { configureSqlite } from './sqlite/pragmas.js';
import type { Store } from './types.js';

export interface SqliteStoreOptions {
  /** A file path. */
  filename: string;
  /** How long a statement waits for another process's write lock before failing. Default 5 s. */
  busyTimeoutMs?: number | undefined;
}

/**
 * The embedded store: one better-sqlite3 connection in WAL mode with `synchronous=FULL`, so a committed batch
 * survives a power cut before Mailtrail acknowledges it.
 *
 * The connection lives on the main thread. Running it on a worker thread was measured (bench/ingest, 2 cores):
 * about 25 % fewer events per second, because copying batches between threads and a second heap cost more CPU
 * than the worker saves. The price is that the event loop waits while a batch commits (~50 ms per 1,000 events).
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const filename = resolve(options.filename);
  mkdirSync(dirname(filename), { recursive: true });
  const database = new Database(filename);
  configureSqlite(database, options.busyTimeoutMs);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database }) });
  let ops: SqliteIngestOps | undefined;
  return new KyselyStore({
    dialect: 'sqlite',
    db,
    // Holding Kysely's one connection keeps every other query out; the batch's transaction is ours. Nothing in
    // runIngest waits for real I/O, so the whole transaction runs without yielding to other requests.
    ingest: (batch) =>
      db.connection().execute(async () => {
        ops ??= new SqliteIngestOps(database);
        ops.reset();
        database.exec('begin immediate');
        try {
          const records = await runIngest(ops, batch);
          database.exec('commit');
          return toIngestResults(records);
        } catch (error) {
          if (database.inTransaction) database.exec('rollback');
          throw error;
        }
      }),
  });
}
