import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import { runIngest, toIngestResults } from './ingest.js';
import { KyselyStore } from './kysely-store.js';
import { PostgresIngestOps } from './postgres/ingest-ops.js';
import { PostgresOutbox } from './postgres/outbox.js';
import type { Database } from './schema.js';
import type { Store } from './types.js';

export interface PostgresStoreOptions {
  connectionString: string;
  /** A schema of its own (created when missing), so several Mailtrails or test runs can share a database. */
  schema?: string | undefined;
  poolSize?: number | undefined;
}

const INT8_OID = 20;
// Deadlock, serialization failure, and a unique violation from a concurrent insert of the same row.
const RETRYABLE = new Set(['40P01', '40001', '23505']);
const ATTEMPTS = 5;

export function createPostgresStore(options: PostgresStoreOptions): Store {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid PostgreSQL schema name: ${schema}`);
  const connect = (max: number, settings: string[]) =>
    new pg.Pool({
      connectionString: options.connectionString,
      max,
      // epoch milliseconds are bigint columns; they fit a JavaScript number exactly
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
      ...(settings.length > 0 || schema ? { options: [...(schema ? [`-c search_path=${schema}`] : []), ...settings].join(' ') } : {}),
    });
  const pool = connect(options.poolSize ?? 10, []);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  // The outbox's leases and attempt records, on a few connections of their own that commit without a WAL flush.
  const bookkeeping = connect(4, ['-c synchronous_commit=off']);
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
