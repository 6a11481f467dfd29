import { join } from 'node:path';
import { createPostgresStore, type StoreLog } from './postgres.js';
import { createSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export type { Store } from './types.js';
export { createPostgresStore } from './postgres.js';
export { createSqliteStore } from './sqlite.js';

/** PostgreSQL when `databaseUrl` is a postgres:// URL, else the embedded database in `dataDir`. */
export function openStore(options: { databaseUrl?: string | undefined; dataDir: string; schema?: string | undefined; log?: StoreLog | undefined }): Store {
  if (options.databaseUrl) return createPostgresStore({ connectionString: options.databaseUrl, schema: options.schema, log: options.log });
  return createSqliteStore({ filename: join(options.dataDir, 'mailtrail.db') });
}
