import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { KyselyStore } from './kysely-store.js';
import type { Database as Schema } from './schema.js';
import type { Store } from './types.js';

export interface SqliteStoreOptions {
  /** A file path, or ':memory:'. */
  filename: string;
}

/**
 * The embedded store: one better-sqlite3 connection in WAL mode with `synchronous=FULL`, so a committed
 * batch survives a power cut before Mailtrail acknowledges it. Kysely serializes access to the connection.
 */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (options.filename !== ':memory:') mkdirSync(dirname(options.filename), { recursive: true });
  const database = new Database(options.filename);
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.pragma('foreign_keys = ON');
  database.pragma('busy_timeout = 5000');
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database }) });
  return new KyselyStore({ dialect: 'sqlite', db });
}
