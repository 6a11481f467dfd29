import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createPostgresStore, createSqliteStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/types.js';

export const POSTGRES_URL = process.env.MAILTRAIL_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The dialects every store test runs against; narrow with MAILTRAIL_TEST_DIALECTS=sqlite (or postgres). */
export const DIALECTS = (process.env.MAILTRAIL_TEST_DIALECTS ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];

export interface TestStore {
  store: Store;
  /** What `openStore`/the server needs to reach the same database. */
  location: { databaseUrl?: string; schema?: string; dataDir: string };
  cleanup(): Promise<void>;
}

/** A fresh, migrated, empty store: a temporary SQLite file, or a PostgreSQL schema of its own. */
export async function freshStore(dialect: 'sqlite' | 'postgres'): Promise<TestStore> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-test-'));
  if (dialect === 'sqlite') {
    const store = createSqliteStore({ filename: join(dataDir, 'mailtrail.db') });
    await store.migrate();
    return {
      store,
      location: { dataDir },
      async cleanup() {
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }
  const schema = `t_${randomBytes(6).toString('hex')}`;
  const store = createPostgresStore({ connectionString: POSTGRES_URL, schema });
  await store.migrate();
  return {
    store,
    location: { databaseUrl: POSTGRES_URL, schema, dataDir },
    async cleanup() {
      await store.close();
      await dropSchema(schema);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

/** Runs a statement on the store's database from outside the store, as an older version of Mailtrail would have. */
export async function execute(context: TestStore, statement: string): Promise<void> {
  const { location } = context;
  if (location.databaseUrl) {
    const client = new pg.Client({ connectionString: location.databaseUrl, options: `-c search_path=${location.schema}` });
    await client.connect();
    await client.query(statement);
    await client.end();
  } else {
    const db = new Database(join(location.dataDir, 'mailtrail.db'));
    db.exec(statement);
    db.close();
  }
}
