// The thread that owns the SQLite connection. better-sqlite3 is synchronous, so running it here keeps the
// HTTP thread free to read, verify and parse the next batch while this one commits (measured in bench/ingest).
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { runIngest } from '../ingest.js';
import type { IngestBatch } from '../types.js';
import { SqliteIngestOps } from './ingest-ops.js';
import { configureSqlite } from './pragmas.js';
import { compactIngest, unpackBatch, type GroupOutcome, type WorkerReply, type WorkerRequest } from './protocol.js';

const { filename, busyTimeoutMs } = workerData as { filename: string; busyTimeoutMs: number };
const database = new Database(filename);
configureSqlite(database, busyTimeoutMs);
let ops: SqliteIngestOps | undefined;

async function handle(request: WorkerRequest): Promise<unknown> {
  switch (request.kind) {
    case 'query': {
      const statement = database.prepare(request.sql);
      if (statement.reader) return { rows: statement.all(request.parameters) };
      const { changes, lastInsertRowid } = statement.run(request.parameters);
      return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
    }
    case 'ingest':
      return ingestGroup(request.batches.map(unpackBatch));
    case 'close':
      database.close();
      return null;
  }
}

/**
 * Group commit: the batches that queued up while the previous group was committing share one transaction, and
 * so one WAL fsync, which is most of a small batch's cost. Each batch has a savepoint of its own, so one that
 * fails is rolled back alone and reported alone; none is acknowledged before the commit.
 */
async function ingestGroup(batches: IngestBatch[]): Promise<GroupOutcome[]> {
  ops ??= new SqliteIngestOps(database);
  const outcomes: GroupOutcome[] = [];
  database.exec('begin immediate');
  try {
    for (const batch of batches) {
      ops.reset();
      database.exec('savepoint batch');
      try {
        const records = await runIngest(ops, batch);
        database.exec('release batch');
        outcomes.push({ ok: true, result: compactIngest(records) });
      } catch (error) {
        database.exec('rollback to batch');
        database.exec('release batch');
        const { message, code } = error as { message?: string; code?: string };
        outcomes.push({ ok: false, error: { message: message ?? String(error), code } });
      }
    }
    database.exec('commit');
    return outcomes;
  } catch (error) {
    if (database.inTransaction) database.exec('rollback');
    throw error;
  }
}

parentPort!.on('message', (request: WorkerRequest) => {
  handle(request).then(
    (result) => parentPort!.postMessage({ id: request.id, ok: true, result } satisfies WorkerReply),
    (error: unknown) => {
      const { message, code } = error as { message?: string; code?: string };
      parentPort!.postMessage({ id: request.id, ok: false, error: { message: message ?? String(error), code } } satisfies WorkerReply);
    },
  );
});
parentPort!.postMessage({ id: 0, ok: true, result: 'ready' } satisfies WorkerReply);
