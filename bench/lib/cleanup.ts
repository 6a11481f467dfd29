import { rmSync } from 'node:fs';
import pg from 'pg';

/** Drops what a bench run made: its PostgreSQL schema (when it used one) and its data directory. */
export async function dropBenchData(dialect: 'sqlite' | 'postgres', postgresUrl: string, schema: string, dir: string): Promise<void> {
  if (dialect === 'postgres') {
    const pool = new pg.Pool({ connectionString: postgresUrl });
    await pool.query(`drop schema if exists ${schema} cascade`);
    await pool.end();
  }
  rmSync(dir, { recursive: true, force: true });
}
