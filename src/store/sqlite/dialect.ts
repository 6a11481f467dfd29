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

export class WorkerSqliteDriver implements Driver {
  private readonly connection: DatabaseConnection;
  private queue: Promise<void> = Promise.resolve();
  private release: (() => void) | null = null;

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

  /** Runs `work` while holding the connection, so nothing else interleaves with it. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    await this.acquireConnection();
    try {
      return await work();
    } finally {
      await this.releaseConnection();
    }
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const previous = this.queue;
    let release!: () => void;
    this.queue = new Promise((resolve) => (release = resolve));
    await previous;
    this.release = release;
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
    const release = this.release;
    this.release = null;
    release?.();
  }

  async destroy(): Promise<void> {
    await this.client.close();
  }
}
