import { join } from 'node:path';
import { createPostgresStore } from './postgres.js';
import { createSqliteStore } from './sqlite.js';
import type { Store } from './types.js';

export type { Store } from './types.js';
export { createPostgresStore } from './postgres.js';
export { createSqliteStore } from './sqlite.js';

/** PostgreSQL when `databaseUrl` is a postgres:// URL, else the embedded database in `dataDir`. */
export function openStore(options: { databaseUrl?: string | undefined; dataDir: string; schema?: string | undefined }): Store {
  if (options.databaseUrl) return createPostgresStore({ connectionString: options.databaseUrl, schema: options.schema });
  return createSqliteStore({ filename: join(options.dataDir, 'mailtrail.db') });
}
