import { fdatasync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import type { Database } from '../schema.js';
import { createSqliteStore } from '../sqlite.js';
import { WalSync } from './wal-sync.js';

const dir = mkdtempSync(join(tmpdir(), 'mailtrail-wal-sync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The real fdatasync, slowed down and recorded: when each flush started and ended, in calls to `durable`. */
function recordedFlush(delayMs: number) {
  const log: string[] = [];
  const flush = (fd: number, done: (error: Error | null) => void) => {
    log.push('start');
    setTimeout(() => fdatasync(fd, (error) => (log.push('end'), done(error))), delayMs);
  };
  return { log, flush };
}

describe('WalSync', () => {
  it('answers each caller after a flush that started after its call, and callers who wait share one flush', async () => {
    const path = join(dir, 'shared-wal');
    writeFileSync(path, 'frames');
    const { log, flush } = recordedFlush(20);
    const wal = new WalSync(path, flush);
    const order: string[] = [];
    const first = wal.durable().then(() => order.push('first'));
    // called while the first flush runs: not covered by it
    await new Promise((resolve) => setTimeout(resolve, 5));
    const later = Array.from({ length: 20 }, (_, index) => wal.durable().then(() => order.push(`later-${index}`)));
    await Promise.all([first, ...later]);
    expect(log).toEqual(['start', 'end', 'start', 'end']);
    expect(order[0]).toBe('first');
    expect(order).toHaveLength(21);
    await wal.close();
  });

  it('rejects every caller when the file cannot be flushed, and keeps answering afterwards', async () => {
    const wal = new WalSync(join(dir, 'no-such-wal'));
    await expect(wal.durable()).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(Promise.all([wal.durable(), wal.durable()])).rejects.toMatchObject({ code: 'ENOENT' });
    await wal.close();
    await expect(wal.durable()).rejects.toThrow('closed');
  });
});

describe('the SQLite store with WalSync', () => {
  it('acknowledges an ingest, and leaves the connection at synchronous=FULL for every other write', async () => {
    const store = createSqliteStore({ filename: join(dir, 'store.db') });
    await store.migrate();
    await store.createEnvironment({ id: 'env_wal', name: 'wal', createdAt: 1 });
    await store.createIntegration({
      id: 'int_wal', environmentId: 'env_wal', provider: 'generic', name: 'generic', activityTracking: true, allowUnsigned: true,
      signingKeyEnc: null, credentialsEnc: null, settings: {}, statusMapping: 'contract', createdAt: 1, updatedAt: 1,
    });
    const results = await store.ingest({
      environmentId: 'env_wal', integrationId: 'int_wal', provider: 'generic', receivedAt: 2,
      events: [{ status: 'delivered', nativeType: 'delivered', occurredAt: 2, dedupeKey: 'wal-1', providerMessageId: 'pm-wal', recipient: 'ada@example.com', raw: '{}' }],
    });
    expect(results.map((result) => result.duplicate)).toEqual([false]);
    const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute((store as unknown as { db: Kysely<Database> }).db);
    expect(rows[0]!.synchronous).toBe(2);
    await store.close();
  });
});
