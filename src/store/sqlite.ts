import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import type { Database } from './schema.js';
import { SqliteWorkerClient } from './sqlite/client.js';
import { WorkerSqliteDialect, WorkerSqliteDriver } from './sqlite/dialect.js';
import type { IngestBatch, Store } from './types.js';
import { expandIngest, packBatch, type CompactIngest, type GroupOutcome } from './sqlite/protocol.js';

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
  const groups = new GroupCommitter(driver, client);
  return new KyselyStore({
    dialect: 'sqlite',
    db,
    ingest: async (batch) => expandIngest(batch, await groups.submit(batch)),
  });
}

const MAX_GROUP_BATCHES = 8;
const MAX_GROUP_EVENTS = 20_000;

/**
 * Collects the batches that arrive while a group is committing into the next group (see the SQLite thread's
 * `ingestGroup`). An idle store sends a batch at once, so grouping adds no wait; under load it saves fsyncs.
 */
class GroupCommitter {
  private queue: { batch: IngestBatch; resolve: (result: CompactIngest) => void; reject: (error: Error) => void }[] = [];
  private busy = false;

  constructor(
    private readonly driver: WorkerSqliteDriver,
    private readonly client: SqliteWorkerClient,
  ) {}

  submit(batch: IngestBatch): Promise<CompactIngest> {
    return new Promise((resolve, reject) => {
      this.queue.push({ batch, resolve, reject });
      if (!this.busy) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.busy = true;
    while (this.queue.length > 0) {
      let events = 0;
      let size = 0;
      while (size < this.queue.length && size < MAX_GROUP_BATCHES && (size === 0 || events + this.queue[size]!.batch.events.length <= MAX_GROUP_EVENTS)) {
        events += this.queue[size]!.batch.events.length;
        size++;
      }
      const group = this.queue.splice(0, size);
      try {
        const outcomes = await this.driver.shared(() => this.client.request<GroupOutcome[]>({ kind: 'ingest', batches: group.map((entry) => packBatch(entry.batch)) }));
        group.forEach((entry, index) => {
          const outcome = outcomes[index]!;
          if (outcome.ok) entry.resolve(outcome.result);
          else entry.reject(Object.assign(new Error(outcome.error.message), { code: outcome.error.code }));
        });
      } catch (error) {
        for (const entry of group) entry.reject(error as Error);
      }
    }
    this.busy = false;
  }
}
