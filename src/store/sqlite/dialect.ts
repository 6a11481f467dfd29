import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
} from 'kysely';
import type { SqliteWorkerClient } from './client.js';

/**
 * Kysely's SQLite dialect with the connection on another thread: queries are compiled here and run there.
 * One connection, handed out under a mutex, exactly like Kysely's own SQLite driver.
 */
export class WorkerSqliteDialect implements Dialect {
  constructor(private readonly driver: WorkerSqliteDriver) {}
  createAdapter() {
    return new SqliteAdapter();
  }
  createDriver(): Driver {
    return this.driver;
  }
  createQueryCompiler() {
    return new SqliteQueryCompiler();
  }
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}

/**
 * Who may use the SQLite thread. Kysely takes the connection exclusively (a transaction spans several messages);
 * ingest batches share it, because each one is a single message that the thread runs to completion, so several
 * can be queued there at once and the thread never waits for this one to send the next (measured in bench/ingest).
 * Waiters are served in arrival order, so neither kind starves the other.
 */
class ConnectionLock {
  private shared = 0;
  private exclusive = false;
  private readonly waiting: { exclusive: boolean; grant: () => void }[] = [];

  acquire(exclusive: boolean): Promise<void> {
    if (this.waiting.length === 0 && this.available(exclusive)) {
      this.take(exclusive);
      return Promise.resolve();
    }
    return new Promise((grant) => this.waiting.push({ exclusive, grant }));
  }

  release(exclusive: boolean): void {
    if (exclusive) this.exclusive = false;
    else this.shared--;
    while (this.waiting.length > 0 && this.available(this.waiting[0]!.exclusive)) {
      const next = this.waiting.shift()!;
      this.take(next.exclusive);
      next.grant();
    }
  }

  private available(exclusive: boolean): boolean {
    return exclusive ? !this.exclusive && this.shared === 0 : !this.exclusive;
  }

  private take(exclusive: boolean): void {
    if (exclusive) this.exclusive = true;
    else this.shared++;
  }
}

export class WorkerSqliteDriver implements Driver {
  private readonly connection: DatabaseConnection;
  private readonly lock = new ConnectionLock();

  constructor(private readonly client: SqliteWorkerClient) {
    this.connection = {
      executeQuery: <R>(query: CompiledQuery) => this.client.request<QueryResult<R>>({ kind: 'query', sql: query.sql, parameters: query.parameters }),
      // eslint-disable-next-line require-yield
      streamQuery: async function* () {
        throw new Error('streaming is not supported by the SQLite worker driver');
      },
    };
  }

  async init(): Promise<void> {
    await this.client.ready;
  }

  /** Runs `work`, a request the SQLite thread completes in one go, alongside other such requests but no transaction. */
  async shared<T>(work: () => Promise<T>): Promise<T> {
    await this.lock.acquire(false);
    try {
      return await work();
    } finally {
      this.lock.release(false);
    }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.lock.acquire(true);
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(): Promise<void> {
    this.lock.release(true);
  }

  async destroy(): Promise<void> {
    await this.client.close();
  }
}
