import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { runIngest, toIngestResults } from './ingest.js';
import { KyselyStore } from './kysely-store.js';
import type { Database as Schema } from './schema.js';
import { SqliteIngestOps } from './sqlite/ingest-ops.js';
import { SqliteOutbox } from './sqlite/outbox.js';
import { configureSqlite } from './sqlite/pragmas.js';
import { WalSync } from './sqlite/wal-sync.js';
import type { IngestBatch, IngestResult, Store } from './types.js';

export interface SqliteStoreOptions {
  /** A file path. */
  filename: string;
  /** How long a statement waits for another process's write lock before failing. Default 5 s. */
  busyTimeoutMs?: number | undefined;
}

/**
 * The embedded store: one better-sqlite3 connection in WAL mode, and no batch acknowledged before its commit is on
 * disk, so it survives a power cut: ingest commits at `synchronous=NORMAL` and flushes the WAL off the event loop
 * before answering (sqlite/wal-sync.ts); everything else commits at `synchronous=FULL`.
 *
 * The connection lives on the main thread. Running it on a worker thread was measured (bench/ingest, 2 cores):
 * about 25 % fewer events per second, because copying batches between threads and a second heap cost more CPU
 * than the worker saves. The price is that the event loop waits while a group commits (~50 ms per 1,000 events).
 * Ingest batches go through a queue of their own (group commit, below); other queries use Kysely's connection
 * mutex, which the queue also takes, so nothing interleaves with a transaction.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  const filename = resolve(options.filename);
  mkdirSync(dirname(filename), { recursive: true });
  const database = new Database(filename);
  configureSqlite(database, options.busyTimeoutMs);
  cachePreparedStatements(database);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database }) });
  let ops: SqliteIngestOps | undefined;
  const wal = new WalSync(`${filename}-wal`);
  const queue: { batch: IngestBatch; resolve: (results: IngestResult[]) => void; reject: (error: unknown) => void }[] = [];
  let scheduled = false;

  // Group commit: batches that arrive while others wait share one transaction (one WAL flush), each under a
  // savepoint of its own, so a failing batch is rolled back and reported alone. None is acknowledged before its
  // commit is on disk: the flush runs after the connection is let go, so the next group is stored meanwhile.
  const drain = async () => {
    const committed = await db.connection().execute(async () => {
      scheduled = false;
      const group = queue.splice(0, MAX_GROUP);
      if (group.length === 0) return null; // an earlier drain took them while this one waited for the connection
      ops ??= new SqliteIngestOps(database);
      const outcomes: ({ ok: true; results: IngestResult[] } | { ok: false; error: unknown })[] = [];
      // compiled each time, as sqlite/outbox.ts explains; SQLite refuses to change it inside a transaction
      database.exec('pragma synchronous = NORMAL');
      database.exec('begin immediate');
      try {
        for (const { batch } of group) {
          ops.reset();
          database.exec('savepoint batch');
          try {
            const records = await runIngest(ops, batch);
            database.exec('release batch');
            outcomes.push({ ok: true, results: toIngestResults(records) });
          } catch (error) {
            database.exec('rollback to batch');
            database.exec('release batch');
            outcomes.push({ ok: false, error });
          }
        }
        database.exec('commit');
      } catch (error) {
        if (database.inTransaction) database.exec('rollback');
        for (const entry of group) entry.reject(error);
        return null;
      } finally {
        if (!database.inTransaction) database.exec('pragma synchronous = FULL');
        if (queue.length > 0 && !scheduled) schedule();
      }
      return { group, outcomes };
    });
    if (committed === null) return;
    const { group, outcomes } = committed;
    try {
      await wal.durable();
    } catch (error) {
      // Stored, but maybe not on disk: not acknowledged, so the sender retries, and the retry is a duplicate.
      for (const entry of group) entry.reject(error);
      return;
    }
    group.forEach((entry, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) entry.resolve(outcome.results);
      else entry.reject(outcome.error);
    });
  };
  const schedule = () => {
    scheduled = true;
    setImmediate(() => {
      // The connection itself can fail (the store was closed): whatever waits is told, instead of waiting forever.
      drain().catch((error: unknown) => {
        scheduled = false;
        for (const entry of queue.splice(0)) entry.reject(error);
      });
    });
  };

  return new KyselyStore({
    dialect: 'sqlite',
    db,
    outbox: new SqliteOutbox(database, db),
    close: () => wal.close(),
    ingest: (batch) =>
      new Promise((resolve, reject) => {
        queue.push({ batch, resolve, reject });
        if (!scheduled) schedule();
      }),
  });
}

const MAX_GROUP = 8;
const MAX_CACHED_STATEMENTS = 500;

/**
 * Kysely prepares every query it runs, and preparing costs more than running most of them: statements are kept by
 * their SQL text. A statement is only ever used synchronously here, so one per text is safe to reuse.
 */
function cachePreparedStatements(database: Database.Database): void {
  const prepare = database.prepare.bind(database);
  const cache = new Map<string, Database.Statement>();
  database.prepare = ((source: string) => {
    let statement = cache.get(source);
    if (!statement) {
      statement = prepare(source);
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.delete(cache.keys().next().value!);
      cache.set(source, statement);
    }
    return statement;
  }) as typeof database.prepare;
}
