import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { runIngest, toIngestResults } from './ingest.js';
import { KyselyStore } from './kysely-store.js';
import { PostgresIngestOps } from './postgres/ingest-ops.js';
import { PostgresOutbox } from './postgres/outbox.js';
import type { Database } from './schema.js';
import type { Store } from './types.js';

/** Where the store reports what it survives (a lost connection); pino's `warn` fits. */
export interface StoreLog {
  warn(details: object, message: string): void;
}

export interface PostgresStoreOptions {
  connectionString: string;
  /** A schema of its own (created when missing), so several Mailtrails or test runs can share a database. */
  schema?: string | undefined;
  poolSize?: number | undefined;
  /** Lost connections are reported here; the pool replaces them by itself. */
  log?: StoreLog | undefined;
}

const INT8_OID = 20;
// Deadlock, serialization failure, and a unique violation from a concurrent insert of the same row.
const RETRYABLE = new Set(['40P01', '40001', '23505']);
const ATTEMPTS = 5;
/**
 * How long a request waits for a connection: a database that does not answer (a host gone from the network, a full
 * pool) costs a caller this much, then a 503, instead of hanging until TCP gives up minutes later.
 */
const CONNECT_TIMEOUT_MS = 5000;

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${schema}`);
  const connect = (name: string, max: number, settings: string[]) => {
    const created = new pg.Pool({
      connectionString: options.connectionString,
      max,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // a connection whose server vanished without a word (a failover, a dropped route) is noticed and replaced
      keepAlive: true,
      // the first probe after 10 s idle, not the system's default of two hours
      keepAliveInitialDelayMillis: 10_000,
      // epoch milliseconds are bigint columns; they fit a JavaScript number exactly
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
      ...(settings.length > 0 || schema ? { options: [...(schema ? [`-c search_path=${schema}`] : []), ...settings].join(' ') } : {}),
    });
    survive(created, name, options.log);
    return created;
  };
  const pool = connect('main', options.poolSize ?? 10, []);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // The outbox's leases and attempt records, on a few connections of their own that commit without a WAL flush.
  const bookkeeping = connect('bookkeeping', 4, ['-c synchronous_commit=off']);
  const transaction = async <T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await db.transaction().execute(work);
      } catch (error) {
        const code = (error as { code?: string }).code;
        if (attempt >= ATTEMPTS || !code || !RETRYABLE.has(code)) throw error;
        await new Promise((resolve) => setTimeout(resolve, attempt * 10 * Math.random()));
      }
    }
  };
  return new KyselyStore({
    dialect: 'postgres',
    db,
    transaction,
    ingest: async (batch) => toIngestResults(await transaction((trx) => runIngest(new PostgresIngestOps(trx), batch))),
    outbox: new PostgresOutbox(bookkeeping),
    // closing twice (an embedder and Mailtrail both closing the store) is harmless, as it is for the main pool
    close: async () => {
      if (!bookkeeping.ended) await bookkeeping.end();
    },
    beforeMigrate: async () => {
      if (schema) await pool.query(`create schema if not exists ${schema}`);
    },
  });
}

/**
 * A server that goes away (a restart terminates every session with 57P01) makes each of its connections emit
 * 'error', idle in the pool or checked out between two queries; an 'error' event nobody listens to ends the process.
 * The pool drops such a connection and opens a new one when asked, so the error is only worth a warning: one per
 * outage, not one per connection, until a new connection succeeds.
 */
function survive(pool: pg.Pool, name: string, log: StoreLog | undefined): void {
  let reported = false;
  const lost = (error: Error) => {
    if (reported) return;
    reported = true;
    log?.warn({ err: error, pool: name }, 'lost a PostgreSQL connection; it is replaced once the database answers');
  };
  // an idle connection's error reaches the pool's listener as well: the connection's own listener reports it
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    reported = false;
    client.on('error', lost);
  });
}
