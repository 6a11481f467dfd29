import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql, type Kysely } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../src/core/event.js';
import { createMailtrail, type Mailtrail } from '../src/index.js';
import { createSender } from '../src/outbound/sender.js';
import { createAddressGuard } from '../src/outbound/ssrf.js';
import { DeliveryWorker } from '../src/outbound/worker.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { createSqliteStore } from '../src/store/index.js';
import type { Database as Schema } from '../src/store/schema.js';
import type { Store } from '../src/store/types.js';
import { receiver, until, type Receiver } from './helpers/receiver.js';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.js';

const DAY = 24 * 3600_000;

/** The worker itself, over a real store, with the clock and the request timeout in the test's hands. */
function worker(mailtrail: Mailtrail, options: { concurrency?: number; schedule?: number[]; requestTimeoutMs?: number; now?: () => number } = {}): DeliveryWorker {
  const requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
  return new DeliveryWorker({
    store: mailtrail.store,
    endpoints: mailtrail.endpoints,
    sender: createSender(createAddressGuard({ allowPrivate: true, allowedCidrs: [] }), requestTimeoutMs),
    schedule: options.schedule ?? [0, 5],
    concurrency: options.concurrency ?? 4,
    log: mailtrail.log,
    now: options.now ?? Date.now,
    pollMs: 20,
    requestTimeoutMs,
  });
}

function delivered(count: number, prefix: string): ParsedEvent[] {
  return Array.from({ length: count }, (_, index) => ({
    status: 'delivered',
    nativeType: 'delivered',
    occurredAt: 1_795_258_800_000 + index,
    dedupeKey: `${prefix}-${index}`,
    providerMessageId: `${prefix}-m-${index}`,
    recipient: `user${index}@example.com`,
    raw: '{}',
  }));
}

/** `pragma synchronous` on a SQLite store's own connection (2 is FULL). */
async function synchronous(store: Store): Promise<number> {
  const db = (store as unknown as { db: Kysely<Schema> }).db;
  const { rows } = await sql<{ synchronous: number }>`pragma synchronous`.execute(db);
  return rows[0]!.synchronous;
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: the delivery worker`, () => {
    let storage: TestStore;
    let mailtrail: Mailtrail;
    const running: DeliveryWorker[] = [];
    const closing: (() => Promise<void>)[] = [];

    /** A Mailtrail without its own worker, an environment, an integration, and one endpoint for delivered events. */
    async function setUp(url: string, endpoint: { rateLimit?: number } = {}, store?: TestStore) {
      storage = store ?? (await freshStore(dialect));
      mailtrail = await createMailtrail({ store: storage.store, secret: generateMasterSecret(), outbound: { worker: false } });
      const { environmentId } = await mailtrail.createEnvironment('worker');
      const { integration } = await mailtrail.integrations.create(environmentId, { providerId: 'generic', name: 'generic' });
      const created = await mailtrail.endpoints.create(environmentId, { url, eventTypes: ['email.delivered'], ...endpoint });
      const ingest = (events: ParsedEvent[], receivedAt = Date.now()) =>
        mailtrail.store.ingest({ environmentId, integrationId: integration.id, provider: 'generic', receivedAt, events, withMessages: false });
      return { environmentId, endpoint: created.endpoint, ingest };
    }
    /** A receiver whose answers wait until the test opens the gate. */
    const gated = async () => {
      let open: () => void = () => {};
      const gate = new Promise<void>((resolve) => (open = resolve));
      const hooks = await receiver({ hold: () => gate });
      closing.push(hooks.close);
      return { hooks, open };
    };
    /** Makes every delivery stored so far a retry due now (one failed attempt each), as after an outage. */
    const asDueRetries = async () => {
      const db = (mailtrail.store as unknown as { db: Kysely<Schema> }).db;
      await db.updateTable('deliveries').set({ attempts: 1, next_attempt_at: Date.now() - 1000 }).execute();
    };
    const start = (instance: DeliveryWorker) => {
      running.push(instance);
      instance.start();
      return instance;
    };

    afterEach(async () => {
      for (const instance of running.splice(0)) await instance.stop();
      for (const close of closing.splice(0)) await close();
      await mailtrail?.close();
      await storage?.cleanup();
    });

    it("gives a delivery back when the endpoint's rate limit would hold it past its lease, and sends each once", async () => {
      const hooks: Receiver = await receiver();
      closing.push(hooks.close);
      // one request a second, and a lease of 4 × 150 ms: the second and third cannot wait for their turn
      const { environmentId, endpoint, ingest } = await setUp(`${hooks.url}/slow`, { rateLimit: 1 });
      await ingest(delivered(3, 'limited'));
      start(worker(mailtrail, { requestTimeoutMs: 150 }));
      const page = await until(
        () => mailtrail.store.listDeliveries(environmentId, endpoint.id, { limit: 10 }),
        (result) => result.data.every((delivery) => delivery.status === 'succeeded'),
        8_000,
      );
      expect(page.data.map((delivery) => [delivery.status, delivery.attempts])).toEqual(Array(3).fill(['succeeded', 1]));
      // still each once a little later: nothing was left to be sent again
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ids = hooks.requests.map((request) => request.headers['webhook-id']);
      expect(ids).toHaveLength(3);
      expect(new Set(ids).size).toBe(3);
      // a second apart (less the first connection's setup, which the later ones reuse)
      const arrivals = hooks.requests.map((request) => request.at);
      for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]! - arrivals[i - 1]!).toBeGreaterThanOrEqual(800);
      // no attempt was held in the worker past its lease (600 ms): each went out soon after its attempt began
      for (const delivery of page.data) {
        const { attempts } = (await mailtrail.store.getDelivery(environmentId, delivery.id))!;
        expect(attempts).toHaveLength(1);
        const request = hooks.requests.find((candidate) => candidate.headers['webhook-id'] === delivery.id)!;
        expect(request.wallAt - attempts[0]!.startedAt).toBeLessThan(600);
      }
    });

    it('gives the deliveries it claimed but did not start back when it stops', async () => {
      // answers only when the test opens the gate
      const { hooks, open } = await gated();
      const { environmentId, endpoint, ingest } = await setUp(`${hooks.url}/slow`);
      await ingest(delivered(3, 'stopping'));
      // one slot: it claims a second delivery ahead while the first is in flight
      const instance = start(worker(mailtrail, { concurrency: 1 }));
      await until(async () => hooks.requests.length, (count) => count === 1);
      // stop while the first attempt is still waiting for its answer; it is recorded before stop resolves
      const stopping = instance.stop();
      open();
      await stopping;
      expect(hooks.requests).toHaveLength(1);
      const page = await mailtrail.store.listDeliveries(environmentId, endpoint.id, { limit: 10 });
      expect(page.data.map((delivery) => delivery.status).sort()).toEqual(['pending', 'pending', 'succeeded']);
      // both unsent deliveries can be claimed at once: none is left leased to the stopped worker
      const now = Date.now();
      const claimable = await mailtrail.store.claimDeliveries({ now, limit: 10, leaseUntil: now + 60_000 });
      expect(claimable.map(({ delivery }) => [delivery.status, delivery.attempts])).toEqual([
        ['pending', 0],
        ['pending', 0],
      ]);
    });

    it('disables an endpoint whose every attempt failed for 5 days, and not before', async () => {
      const hooks = await receiver();
      closing.push(hooks.close);
      hooks.script.set('/failing', Array(10).fill(503));
      let clock = Date.now();
      const { environmentId, endpoint, ingest } = await setUp(`${hooks.url}/failing`);
      await ingest(delivered(1, 'first'), clock);
      const options = { now: () => clock, schedule: [0, 3600, 3600, 3600] };
      start(worker(mailtrail, options));
      const failing = await until(
        () => mailtrail.endpoints.get(environmentId, endpoint.id),
        (current) => current.failingSince !== null,
      );
      expect(failing).toMatchObject({ enabled: true, failingSince: clock });
      const since = clock;

      // four days on, still failing: still enabled (stopping waits for the attempt and what it records)
      clock = since + 4 * DAY;
      await until(async () => hooks.requests.length, (count) => count === 2);
      await running.pop()!.stop();
      expect((await mailtrail.store.listDeliveries(environmentId, endpoint.id, { limit: 1 })).data[0]).toMatchObject({ status: 'pending', attempts: 2 });
      expect(await mailtrail.endpoints.get(environmentId, endpoint.id)).toMatchObject({ enabled: true, failingSince: since });

      // five days after the first failure: disabled, with the reason
      clock = since + 5 * DAY + 1;
      start(worker(mailtrail, options));
      const disabled = await until(
        () => mailtrail.endpoints.get(environmentId, endpoint.id),
        (current) => !current.enabled,
      );
      expect(disabled).toMatchObject({ enabled: false, disabledReason: 'every attempt failed for 5 days' });
      expect(hooks.requests).toHaveLength(3);
    });

    it('keeps slots for fresh deliveries while retries to a hanging endpoint hold the rest', async () => {
      // an endpoint that never answers: its retries hold their slots for the whole request timeout (3 s)
      const stuck = await receiver({ hold: () => new Promise(() => {}) });
      closing.push(stuck.close);
      const hooks = await receiver();
      closing.push(hooks.close);
      const { environmentId, ingest } = await setUp(`${stuck.url}/stuck`);
      await ingest(delivered(10, 'backlog'));
      await asDueRetries();
      const fast = await mailtrail.endpoints.create(environmentId, { url: `${hooks.url}/fresh`, eventTypes: ['email.opened'] });

      const instance = start(worker(mailtrail, { requestTimeoutMs: 3000 }));
      // four slots: three for retries, which all hang
      await until(async () => stuck.requests.length, (count) => count === 3);
      const sentAt = Date.now();
      await ingest([{ ...delivered(1, 'fresh')[0]!, status: 'opened', nativeType: 'opened' }]);
      instance.wake();
      await until(async () => hooks.requests.length, (count) => count === 1, 2_000);
      expect(hooks.requests).toHaveLength(1);
      expect(hooks.requests[0]!.wallAt - sentAt).toBeLessThan(1000);
      expect(stuck.requests).toHaveLength(3);
      const page = await until(
        () => mailtrail.store.listDeliveries(environmentId, fast.endpoint.id, { limit: 1 }),
        (result) => result.data[0]?.status === 'succeeded',
      );
      expect(page.data[0]).toMatchObject({ status: 'succeeded', attempts: 1 });
    });

    it('lets retries have a quarter of the slots while fresh deliveries keep coming', async () => {
      // a receiver that takes 20 to 71 ms per answer, so slots free up one at a time and claims stay small, for a
      // backlog of 40 fresh deliveries and 4 due retries
      const hooks = await receiver({ hold: (index) => new Promise((resolve) => setTimeout(resolve, 20 + ((index + 1) % 4) * 17)) });
      closing.push(hooks.close);
      const { environmentId, ingest } = await setUp(`${hooks.url}/retry`);
      await ingest(delivered(4, 'retries'));
      await asDueRetries();
      await mailtrail.endpoints.create(environmentId, { url: `${hooks.url}/fresh`, eventTypes: ['email.opened'] });
      await ingest(delivered(40, 'flood').map((event) => ({ ...event, status: 'opened' as const, nativeType: 'opened' })));

      start(worker(mailtrail, { concurrency: 4 }));
      await until(async () => hooks.requests.length, (count) => count === 44, 8_000);
      const order = hooks.requests.map((request) => request.path);
      expect(order.filter((path) => path === '/retry')).toHaveLength(4);
      // fresh deliveries hold most of the first round, but the retries do not wait for all 40 of them
      expect(order.slice(0, 4).filter((path) => path === '/fresh').length).toBeGreaterThanOrEqual(3);
      expect(order.indexOf('/retry')).toBeLessThan(10);
      // and keep their share throughout: the last retry goes before the last fresh delivery
      expect(order.lastIndexOf('/retry')).toBeLessThan(order.lastIndexOf('/fresh'));
    });

    it('reads the endpoint again for a delivery that waited for a slot, and sends nothing to one disabled meanwhile', async () => {
      const { hooks, open } = await gated();
      const { environmentId, endpoint, ingest } = await setUp(`${hooks.url}/paused`);
      await ingest(delivered(2, 'paused'));
      // one slot: the second delivery is claimed ahead and waits behind the first, which gets no answer yet
      start(worker(mailtrail, { concurrency: 1 }));
      await until(async () => hooks.requests.length, (count) => count === 1);
      await mailtrail.endpoints.update(environmentId, endpoint.id, { enabled: false });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      open();
      const page = await until(
        () => mailtrail.store.listDeliveries(environmentId, endpoint.id, { limit: 10 }),
        (result) => result.data.every((delivery) => delivery.status !== 'pending'),
      );
      expect(hooks.requests).toHaveLength(1);
      expect(page.data.map((delivery) => [delivery.status, delivery.lastError]).sort()).toEqual([
        ['failed', 'the endpoint is disabled'],
        ['succeeded', null],
      ]);
    });

    it('leaves a delivery alone when a stale copy of its claim tries to give it back', async () => {
      const { ingest } = await setUp('http://127.0.0.1:9/unused');
      await ingest(delivered(1, 'stale'));
      const first = Date.now();
      const [claimed] = await mailtrail.store.claimDeliveries({ now: first, limit: 1, leaseUntil: first + 1000 });
      // the first lease runs out and another worker claims the delivery
      const [again] = await mailtrail.store.claimDeliveries({ now: first + 1001, limit: 1, leaseUntil: first + 61_001 });
      expect(again!.delivery.id).toBe(claimed!.delivery.id);
      // the first worker, late, gives back what it thinks is still its own: nothing changes
      await mailtrail.store.postponeDelivery(claimed!.delivery.id, first + 1000, first + 1002);
      expect(await mailtrail.store.claimDeliveries({ now: first + 2000, limit: 1, leaseUntil: first + 62_000 })).toEqual([]);
      // the holder can give it back
      await mailtrail.store.postponeDelivery(claimed!.delivery.id, first + 61_001, first + 1002);
      expect(await mailtrail.store.claimDeliveries({ now: first + 2000, limit: 1, leaseUntil: first + 62_000 })).toHaveLength(1);
    });

    it("works an endpoint's health out on its row, whatever copy of it the worker holds", async () => {
      const { environmentId, endpoint, ingest } = await setUp('http://127.0.0.1:9/health');
      await ingest(delivered(4, 'health'));
      const t0 = Date.now();
      const claimed = await mailtrail.store.claimDeliveries({ now: t0, limit: 4, leaseUntil: t0 + 60_000 });
      const record = (index: number, health: 'succeeded' | 'failed' | 'gone', at: number) =>
        mailtrail.store.recordAttempts(
          [
            {
              attempt: { deliveryId: claimed[index]!.delivery.id, attempt: 1, startedAt: at, durationMs: 1, statusCode: health === 'succeeded' ? 200 : 500, responseBody: null, error: null },
              outcome: { status: health === 'succeeded' ? 'succeeded' : 'failed', nextAttemptAt: null, lastStatusCode: health === 'succeeded' ? 200 : 500, lastError: null },
              endpointId: endpoint.id,
              health,
            },
          ],
          at,
        );
      const current = () => mailtrail.endpoints.get(environmentId, endpoint.id);
      expect(await record(0, 'failed', t0)).toEqual([true]);
      expect(await current()).toMatchObject({ enabled: true, failingSince: t0 });
      // a later failure keeps the first failure's time; a success in between clears it
      expect(await record(1, 'succeeded', t0 + DAY)).toEqual([true]);
      expect(await current()).toMatchObject({ enabled: true, failingSince: null });
      expect(await record(2, 'failed', t0 + 5 * DAY)).toEqual([true]);
      expect(await current()).toMatchObject({ enabled: true, failingSince: t0 + 5 * DAY });
      // a record whose lease was lost changes nothing, the endpoint included
      expect(await record(2, 'gone', t0 + 5 * DAY)).toEqual([false]);
      expect(await current()).toMatchObject({ enabled: true, disabledReason: null });
      expect(await record(3, 'gone', t0 + 6 * DAY)).toEqual([true]);
      expect(await current()).toMatchObject({ enabled: false, disabledReason: 'the endpoint answered 410 Gone' });
    });

    it.runIf(dialect === 'sqlite')('puts the connection back to synchronous=FULL when the bookkeeping cannot start', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-busy-'));
      const store = createSqliteStore({ filename: join(dataDir, 'mailtrail.db'), busyTimeoutMs: 100 });
      closing.push(async () => {
        await store.close();
        rmSync(dataDir, { recursive: true, force: true });
      });
      await store.migrate();
      // another connection (another process, in life) holds the write lock for longer than the store waits
      const other = new Database(join(dataDir, 'mailtrail.db'));
      other.exec('begin immediate');
      const now = Date.now();
      await expect(store.claimDeliveries({ now, limit: 4, leaseUntil: now + 60_000 })).rejects.toMatchObject({ code: 'SQLITE_BUSY' });
      other.exec('commit');
      other.close();
      expect(await synchronous(store)).toBe(2);
      expect(await store.claimDeliveries({ now, limit: 4, leaseUntil: now + 60_000 })).toEqual([]);
    });

    it.runIf(dialect === 'sqlite')('records an attempt once the database lets it, rather than sending it again', async () => {
      // a store that waits only 50 ms for a lock, and another connection that takes the lock while the receiver
      // answers, for 300 ms: the first tries to record the attempt find the database busy
      const dataDir = mkdtempSync(join(tmpdir(), 'mailtrail-locked-'));
      const filename = join(dataDir, 'mailtrail.db');
      const store = createSqliteStore({ filename, busyTimeoutMs: 50 });
      await store.migrate();
      const other = new Database(filename);
      closing.push(async () => {
        if (other.open) other.close();
      });
      let locked = false;
      const hooks = await receiver({
        hold: async () => {
          if (locked) return;
          locked = true;
          other.exec('begin immediate');
          setTimeout(() => other.exec('commit'), 300);
        },
      });
      closing.push(hooks.close);
      const { environmentId, endpoint, ingest } = await setUp(`${hooks.url}/locked`, {}, {
        store,
        location: { dataDir },
        cleanup: async () => {
          await store.close();
          rmSync(dataDir, { recursive: true, force: true });
        },
      });
      await ingest(delivered(1, 'locked'));
      start(worker(mailtrail));
      const page = await until(
        () => mailtrail.store.listDeliveries(environmentId, endpoint.id, { limit: 10 }),
        (result) => result.data[0]?.status === 'succeeded',
        5_000,
      );
      expect(locked).toBe(true);
      expect(page.data.map((delivery) => [delivery.status, delivery.attempts])).toEqual([['succeeded', 1]]);
    });

    it.runIf(dialect === 'sqlite')('leaves the connection at synchronous=FULL after the outbox bookkeeping', async () => {
      const hooks = await receiver();
      closing.push(hooks.close);
      const { environmentId, endpoint, ingest } = await setUp(`${hooks.url}/sync`);
      await ingest(delivered(5, 'sync'));
      start(worker(mailtrail));
      await until(
        () => mailtrail.store.listDeliveries(environmentId, endpoint.id, { limit: 10 }),
        (page) => page.data.every((delivery) => delivery.status === 'succeeded'),
      );
      // bookkeeping commits at NORMAL, and events must be written at FULL again
      expect(await synchronous(mailtrail.store)).toBe(2);
    });
  });
}
