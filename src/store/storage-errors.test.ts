import { createServer, type Server, type Socket } from 'node:net';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailtrailError } from '../core/errors.js';
import { DIALECTS, POSTGRES_URL } from '../../test/helpers/stores.js';
import { freePort } from '../../test/helpers/receiver.js';
import { isStorageUnavailable } from './storage-errors.js';

// The errors node-postgres really raises, each provoked for real: a refused port, a server that hangs up or never
// answers, a session the server terminates; and errors that say the statement, not the database, is wrong.

/** Rejects with what `work` throws, or fails the test when it does not throw. */
async function thrown(work: () => Promise<unknown>): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** A TCP server standing in for a broken database: it hangs up at once, or accepts and never says a word. */
async function fakeServer(behaviour: 'hang-up' | 'silent'): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    if (behaviour === 'hang-up') socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const query = async (connectionString: string, text: string, options: { connectionTimeoutMillis?: number } = {}) => {
  const pool = new pg.Pool({ connectionString, ...options });
  pool.on('error', () => undefined);
  try {
    return await pool.query(text);
  } finally {
    await pool.end();
  }
};

describe('isStorageUnavailable: the database cannot be reached', () => {
  it('a refused connection', async () => {
    const port = await freePort();
    const error = await thrown(() => query(`postgres://postgres@127.0.0.1:${port}/test`, 'select 1'));
    expect((error as { code?: string }).code).toBe('ECONNREFUSED');
    expect(isStorageUnavailable(error)).toBe(true);
  });

  it('a refused connection to a host name with several addresses (an AggregateError of each attempt)', async () => {
    const port = await freePort();
    const error = await thrown(() => query(`postgres://postgres@localhost:${port}/test`, 'select 1'));
    expect(isStorageUnavailable(error)).toBe(true);
  });

  it('a server that hangs up before answering', async () => {
    const server = await fakeServer('hang-up');
    try {
      const error = await thrown(() => query(`postgres://postgres@127.0.0.1:${server.port}/test`, 'select 1'));
      expect(String(error)).toMatch(/Connection terminated|ECONNRESET/);
      expect(isStorageUnavailable(error)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it("a server that never answers, after the pool's connection timeout", async () => {
    const server = await fakeServer('silent');
    try {
      const error = await thrown(() => query(`postgres://postgres@127.0.0.1:${server.port}/test`, 'select 1', { connectionTimeoutMillis: 200 }));
      expect(String(error)).toMatch(/timeout/);
      expect(isStorageUnavailable(error)).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('SQLSTATEs of a server going away, starting up, full, or turned standby, and class 08', () => {
    for (const code of ['57P01', '57P02', '57P03', '53300', '25006', '08000', '08003', '08006', '08001', '08P01']) {
      expect(isStorageUnavailable(Object.assign(new Error('from the server'), { code })), code).toBe(true);
    }
  });

  it('a wrapped connection error, found through its cause', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    expect(isStorageUnavailable(new Error('query failed', { cause: refused }))).toBe(true);
  });
});

describe.runIf(DIALECTS.includes('postgres'))('isStorageUnavailable on a live PostgreSQL', () => {
  let client: pg.Client;
  beforeAll(async () => {
    client = new pg.Client({ connectionString: POSTGRES_URL });
    client.on('error', () => undefined);
    await client.connect();
  });
  afterAll(async () => {
    await client.end().catch(() => undefined);
  });

  it('a statement is wrong: syntax, a missing table, a division by zero', async () => {
    const errors: unknown[] = [];
    for (const text of ['selec 1', 'select * from mailtrail_no_such_table', 'select 1 / 0']) errors.push(await thrown(() => client.query(text)));
    expect(errors.map((error) => (error as { code: string }).code)).toEqual(['42601', '42P01', '22012']);
    expect(errors.map((error) => isStorageUnavailable(error))).toEqual([false, false, false]);
  });

  it('writes refused by a read-only transaction, as on a primary turned standby', async () => {
    const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
    try {
      const error = await thrown(async () => {
        const session = await pool.connect();
        try {
          await session.query('begin read only');
          await session.query('create temporary table mailtrail_read_only (id int)');
        } finally {
          session.release(true);
        }
      });
      expect((error as { code: string }).code).toBe('25006');
      expect(isStorageUnavailable(error)).toBe(true);
    } finally {
      await pool.end();
    }
  });

  it('a session the server terminates (57P01, as in pg_ctl stop -m fast)', async () => {
    const doomed = new pg.Client({ connectionString: POSTGRES_URL });
    doomed.on('error', () => undefined);
    await doomed.connect();
    const pid = (await doomed.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const running = thrown(() => doomed.query('select pg_sleep(10)'));
    await new Promise((resolve) => setTimeout(resolve, 100));
    await client.query('select pg_terminate_backend($1)', [pid]);
    const error = await running;
    expect((error as { code: string }).code).toBe('57P01');
    expect(isStorageUnavailable(error)).toBe(true);
    // and the next query on that dead connection
    const after = await thrown(() => doomed.query('select 1'));
    expect(isStorageUnavailable(after)).toBe(true);
    await doomed.end().catch(() => undefined);
  });
});

describe('isStorageUnavailable: not the database being away', () => {
  it('our own errors, SQLite constraint errors, and things that are not errors', () => {
    const db = new Database(':memory:');
    db.exec('create table t (id integer primary key)');
    db.exec('insert into t values (1)');
    let constraint: unknown;
    try {
      db.exec('insert into t values (1)');
    } catch (error) {
      constraint = error;
    }
    db.close();
    expect((constraint as { code: string }).code).toBe('SQLITE_CONSTRAINT_PRIMARYKEY');
    expect(isStorageUnavailable(constraint)).toBe(false);
    expect(isStorageUnavailable(new MailtrailError('MT_ERR_VALIDATION', 'bad'))).toBe(false);
    expect(isStorageUnavailable(new Error('Maximum call stack size exceeded'))).toBe(false);
    expect(isStorageUnavailable(null)).toBe(false);
    expect(isStorageUnavailable('ECONNREFUSED')).toBe(false);
  });
});
