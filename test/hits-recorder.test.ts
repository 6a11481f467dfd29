import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TrackingHit } from '../src/engagement/hit.js';
import { EventBus, type EmailEvent } from '../src/ingest/emitter.js';
import { createHitRecorder } from '../src/ingest/hits.js';
import { silentLogger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import type { Store } from '../src/store/types.js';
import { receiver, until, type Receiver } from './helpers/receiver.js';
import { startServer, type TestServer } from './helpers/server.js';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.js';

const T0 = 1_700_000_000_000;
const environmentId = 'env_hits';
const integrationId = 'int_generic';
// What a mail client and a browser send (Thunderbird loading the pixel, Firefox following a link).
const READER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.3.1';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0';

function hit(messageId: string, occurredAt: number, overrides: Partial<TrackingHit> = {}): TrackingHit {
  return {
    kind: 'open',
    environmentId,
    messageId,
    linkIndex: null,
    url: null,
    occurredAt,
    method: 'GET',
    userAgent: READER,
    ip: '198.51.100.77',
    storedIp: '198.51.100.0',
    headers: { accept: 'image/avif,image/webp,*/*', 'accept-language': 'en-GB,en;q=0.5' },
    ...overrides,
  };
}

function click(messageId: string, occurredAt: number, linkIndex: number, overrides: Partial<TrackingHit> = {}): TrackingHit {
  return hit(messageId, occurredAt, {
    kind: 'click',
    linkIndex,
    url: `https://shop.example.com/p/${linkIndex}?a=1&b=2`,
    userAgent: BROWSER,
    headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'accept-language': 'en-GB,en;q=0.5' },
    ...overrides,
  });
}

/** Counts the store's ingest transactions: the group commit is measured, not assumed. */
function counted(store: Store): { store: Store; calls: () => number } {
  let calls = 0;
  const wrapped = new Proxy(store, {
    get(target, property, receiverObject) {
      if (property === 'ingest') {
        return (...args: Parameters<Store['ingest']>) => {
          calls++;
          return target.ingest(...args);
        };
      }
      const value: unknown = Reflect.get(target, property, receiverObject);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  return { store: wrapped, calls: () => calls };
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: recording first-party hits`, () => {
    let context: TestStore;
    let store: Store;
    let metrics: Metrics;
    let bus: EventBus;
    const clock = T0;
    let runs = 0;

    beforeAll(async () => {
      context = await freshStore(dialect);
      store = context.store;
      await store.createEnvironment({ id: environmentId, name: 'hits', createdAt: T0 });
      await store.createIntegration({
        id: integrationId, environmentId, provider: 'generic', name: 'generic', activityTracking: true, allowUnsigned: true,
        signingKeyEnc: null, credentialsEnc: null, settings: {}, statusMapping: 'contract', createdAt: T0, updatedAt: T0,
      });
    });
    afterAll(() => context.cleanup());

    function recorder(over: { store?: Store } = {}) {
      metrics = new Metrics();
      bus = new EventBus(silentLogger);
      return createHitRecorder({ store: over.store ?? store, log: silentLogger, metrics, now: () => clock, bus });
    }

    /** A message registered before it is sent, as `POST /v1/messages` does. */
    async function registered(at = T0) {
      const id = `msg-${dialect}-${++runs}`;
      const result = await store.registerMessage({ environmentId, integrationId, provider: 'generic', id, providerMessageId: `pm-${runs}`, recipient: 'ada@example.com' }, at);
      if (result.outcome === 'conflict') throw new Error(result.reason);
      return id;
    }

    async function delivered(messageId: string, occurredAt: number) {
      const providerMessageId = (await store.getMessage(environmentId, messageId))!.providerMessageId!;
      await store.ingest({
        environmentId, integrationId, provider: 'generic', receivedAt: clock,
        events: [{ status: 'delivered', nativeType: 'delivered', occurredAt, dedupeKey: `delivered-${messageId}`, providerMessageId, recipient: 'ada@example.com', raw: '{}' }],
      });
    }

    const events = (messageId: string) => store.listMessageEvents(environmentId, messageId);
    const state = async (messageId: string) => (await store.getMessage(environmentId, messageId))!.state;

    it('stores an open and a click as first-party events of the message, under its integration, without the full address', async () => {
      const hits = recorder();
      const messageId = await registered();
      await hits.record(hit(messageId, T0 + 600_000));
      await hits.record(click(messageId, T0 + 660_000, 2));

      const [open, clicked] = await events(messageId);
      expect(open).toMatchObject({
        status: 'opened', provider: 'mailtrail', origin: 'first-party', integrationId, messageId, nativeType: 'open',
        occurredAt: T0 + 600_000, userAgent: READER, ip: '198.51.100.0', machine: false,
      });
      expect(clicked).toMatchObject({ status: 'clicked', origin: 'first-party', url: 'https://shop.example.com/p/2?a=1&b=2', userAgent: BROWSER, machine: false });
      expect(JSON.parse(clicked!.raw)).toEqual({
        method: 'GET', userAgent: BROWSER, accept: 'text/html,application/xhtml+xml,*/*;q=0.8', acceptLanguage: 'en-GB,en;q=0.5',
        ip: '198.51.100.0', linkIndex: 2, url: 'https://shop.example.com/p/2?a=1&b=2', network: null,
      });
      for (const event of [open!, clicked!]) expect(event.raw).not.toContain('198.51.100.77');
      expect(await state(messageId)).toMatchObject({
        status: 'delivered', opens: 1, humanOpens: 1, clicks: 1, humanClicks: 1, firstHumanOpenAt: T0 + 600_000, firstHumanClickAt: T0 + 660_000, firstPartyHits: 2,
      });
      expect(await metrics.trackingHits.get()).toMatchObject({ values: expect.arrayContaining([expect.objectContaining({ labels: { kind: 'open', result: 'stored' }, value: 1 })]) });
    });

    it('keeps no address at all when none may be stored, and records an unsubscribe unclassified', async () => {
      const hits = recorder();
      const messageId = await registered();
      await hits.record(hit(messageId, T0 + 1000, { kind: 'unsubscribe', method: 'POST', storedIp: null }));
      const [unsubscribed] = await events(messageId);
      expect(unsubscribed).toMatchObject({ status: 'unsubscribed', origin: 'first-party', machine: false });
      expect(unsubscribed!.ip).toBeUndefined();
      expect(JSON.parse(unsubscribed!.raw).ip).toBeNull();
      expect(await state(messageId)).toMatchObject({ unsubscribed: true, unsubscribedAt: T0 + 1000, firstPartyHits: 0 });
    });

    it('creates a message it has never seen in the first-party integration, and a later registration takes it over', async () => {
      const hits = recorder();
      const messageId = `instrumented-${dialect}`;
      await hits.record(hit(messageId, T0 + 5000));
      await hits.record(click(messageId, T0 + 9000, 0));
      const firstParty = await store.firstPartyIntegration(environmentId, clock);
      expect(firstParty).toMatchObject({ provider: 'mailtrail', environmentId });
      const created = (await store.getMessage(environmentId, messageId))!;
      expect(created).toMatchObject({ origin: 'first-party', integrationId: firstParty!.id, provider: 'mailtrail', recipient: null });
      expect(created.state).toMatchObject({ opens: 1, clicks: 1, humanOpens: 1 });
      expect((await events(messageId)).map((event) => event.integrationId)).toEqual([firstParty!.id, firstParty!.id]);
      // one integration per environment, however often it is asked for
      expect((await Promise.all([1, 2, 3].map(() => store.firstPartyIntegration(environmentId, clock)))).map((integration) => integration!.id)).toEqual([firstParty!.id, firstParty!.id, firstParty!.id]);

      const merged = await store.registerMessage({ environmentId, integrationId, provider: 'generic', id: messageId, providerMessageId: 'pm-instrumented', recipient: 'bob@example.com' }, T0 + 20_000);
      expect(merged).toMatchObject({ outcome: 'merged', message: { id: messageId, origin: 'api', integrationId, recipient: 'bob@example.com', state: { opens: 1, clicks: 1 } } });
      expect((await events(messageId)).map((event) => event.integrationId)).toEqual([integrationId, integrationId]);
      // later hits and the provider's events reach the same message
      await hits.record(hit(messageId, T0 + 60_000));
      await delivered(messageId, T0 + 2000);
      expect((await store.listMessages(environmentId, { limit: 100, q: messageId })).data).toHaveLength(1);
      expect(await state(messageId)).toMatchObject({ opens: 2, humanOpens: 2, status: 'delivered' });
    });

    it('makes one first-party integration when the first hits of an environment arrive at once', async () => {
      const fresh = `env_fresh_${dialect}`;
      await store.createEnvironment({ id: fresh, name: 'fresh', createdAt: T0 });
      const made = await Promise.all(Array.from({ length: 6 }, () => store.firstPartyIntegration(fresh, clock)));
      expect(new Set(made.map((integration) => integration!.id)).size).toBe(1);
      expect((await store.listIntegrations(fresh)).filter((integration) => integration.provider === 'mailtrail')).toHaveLength(1);
      // and concurrent first hits of one message never seen make one message with all of them
      const hits = recorder();
      await Promise.all(Array.from({ length: 5 }, (_, index) => hits.record({ ...hit('instrumented-once', T0 + index * 60_000), environmentId: fresh })));
      const messages = (await store.listMessages(fresh, { limit: 10 })).data;
      expect(messages.map((message) => [message.id, message.state.opens])).toEqual([['instrumented-once', 5]]);
    });

    it('rejects, logs and counts a hit that cannot be stored', async () => {
      const broken = await freshStore(dialect);
      await broken.store.createEnvironment({ id: environmentId, name: 'broken', createdAt: T0 });
      const logged: string[] = [];
      const log = pino({ level: 'error' }, { write: (line: string) => void logged.push(line) });
      metrics = new Metrics();
      const hits = createHitRecorder({ store: broken.store, log, metrics, now: () => clock, bus: new EventBus(silentLogger) });
      await hits.record(hit('msg-before', T0));
      await broken.cleanup();
      await expect(hits.record(hit('msg-after', T0))).rejects.toMatchObject({ code: 'MT_ERR_STORAGE_UNAVAILABLE' });
      expect(logged).toHaveLength(1);
      expect(JSON.parse(logged[0]!)).toMatchObject({ msg: 'a tracking hit could not be stored', messageId: 'msg-after', kind: 'open' });
      expect((await metrics.trackingHits.get()).values).toEqual(
        expect.arrayContaining([expect.objectContaining({ labels: { kind: 'open', result: 'stored' }, value: 1 }), expect.objectContaining({ labels: { kind: 'open', result: 'failed' }, value: 1 })]),
      );
    });

    it('refuses hits for an environment that does not exist', async () => {
      const hits = recorder();
      await expect(hits.record({ ...hit('msg-x', T0), environmentId: 'env_missing' })).rejects.toMatchObject({ code: 'MT_ERR_NOT_FOUND' });
      expect((await metrics.trackingHits.get()).values).toEqual([expect.objectContaining({ labels: { kind: 'open', result: 'refused' }, value: 1 })]);
      expect(await store.firstPartyIntegration('env_missing', clock)).toBeNull();
      expect((await store.listMessages(environmentId, { limit: 100, q: 'msg-x' })).data).toEqual([]);
      // and hits the routes could not have made
      await expect(hits.record(hit('', T0))).rejects.toMatchObject({ code: 'MT_ERR_VALIDATION' });
      await expect(hits.record(hit('msg-x', Number.NaN))).rejects.toMatchObject({ code: 'MT_ERR_VALIDATION' });
      await expect(hits.record(hit('x'.repeat(256), T0))).rejects.toMatchObject({ code: 'MT_ERR_VALIDATION' });
    });

    it('counts people apart from machines: a privacy proxy, a HEAD probe and a script are machines', async () => {
      const hits = recorder();
      const messageId = await registered();
      await hits.record(hit(messageId, T0 + 3_600_000, { userAgent: 'Mozilla/5.0', ip: '17.58.100.1' }));
      await hits.record(click(messageId, T0 + 3_700_000, 0, { method: 'HEAD' }));
      await hits.record(click(messageId, T0 + 3_800_000, 1, { userAgent: 'python-requests/2.32.3' }));
      await hits.record(hit(messageId, T0 + 3_900_000));
      const verdicts = (await events(messageId)).map((event) => [event.status, event.machine, event.machineKind ?? null]);
      expect(verdicts).toEqual([
        ['opened', true, 'apple-mpp'],
        ['clicked', true, 'link-scanner'],
        ['clicked', true, 'bot'],
        ['opened', false, null],
      ]);
      expect(await state(messageId)).toMatchObject({ opens: 2, humanOpens: 1, clicks: 2, humanClicks: 0, firstHumanOpenAt: T0 + 3_900_000, firstHumanClickAt: null });
    });

    it('reclassifies hits that came before the delivered event when it arrives', async () => {
      const hits = recorder();
      const messageId = await registered();
      // a gateway fetches the pixel and a link while the message is in transit, 30 s before the provider delivers it
      await hits.record(hit(messageId, T0 + 70_000));
      await hits.record(click(messageId, T0 + 75_000, 0));
      expect(await state(messageId)).toMatchObject({ humanOpens: 1, humanClicks: 1 });

      await delivered(messageId, T0 + 105_000);
      const stored = await events(messageId);
      expect(stored.filter((event) => event.origin === 'first-party').map((event) => [event.machine, event.machineKind])).toEqual([
        [true, 'link-scanner'],
        [true, 'link-scanner'],
      ]);
      expect(stored[0]!.machineReason).toMatch(/before the message was delivered/);
      expect(await state(messageId)).toMatchObject({ opens: 1, humanOpens: 0, clicks: 1, humanClicks: 0, firstHumanOpenAt: null, firstHumanClickAt: null, status: 'delivered' });
    });

    it('marks every hit of a scanner burst as a machine, including the ones stored before the burst was complete', async () => {
      const hits = recorder();
      const messageId = await registered();
      await delivered(messageId, T0);
      for (let link = 0; link < 4; link++) await hits.record(click(messageId, T0 + 600_000 + link * 300, link));
      // and the reader's own click, ten minutes later
      await hits.record(click(messageId, T0 + 1_200_000, 1));
      const stored = (await events(messageId)).filter((event) => event.status === 'clicked');
      expect(stored.map((event) => [event.machine, event.machineKind ?? null])).toEqual([
        [true, 'link-scanner'], [true, 'link-scanner'], [true, 'link-scanner'], [true, 'link-scanner'], [false, null],
      ]);
      expect(await state(messageId)).toMatchObject({ clicks: 5, humanClicks: 1, firstHumanClickAt: T0 + 1_200_000 });
    });

    it('group-commits concurrent hits: 60 hits arriving together share one transaction, every hit stored', async () => {
      const { store: spied, calls } = counted(store);
      const hits = recorder({ store: spied });
      const messageIds = [await registered(), await registered()];
      const count = 60;
      await Promise.all(Array.from({ length: count }, (_, index) => hits.record(hit(messageIds[index % 2]!, T0 + 900_000 + index * 5000))));
      expect(calls()).toBe(1);
      const opens = await Promise.all(messageIds.map(async (id) => (await state(id)).opens));
      expect(opens).toEqual([count / 2, count / 2]);
      expect((await events(messageIds[0]!)).length).toBe(count / 2);
    });

    it('counts a hit once when a commit went through but was reported failed, and the batch is stored again hit by hit', async () => {
      // A connection lost during COMMIT: the transaction may have committed, the caller cannot know. The recorder
      // stores each hit of the batch again; the same hit must be found, not stored a second time.
      let failedOnce = false;
      const unclear = new Proxy(store, {
        get(target, property, receiverObject) {
          if (property === 'ingest') {
            return async (...args: Parameters<Store['ingest']>) => {
              const results = await target.ingest(...args);
              if (!failedOnce && args[0].events.length > 1) {
                failedOnce = true;
                throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
              }
              return results;
            };
          }
          const value: unknown = Reflect.get(target, property, receiverObject);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      const hits = recorder({ store: unclear });
      // one message of a provider integration (the hit is stored there), one the recorder has never seen
      const messageIds = [await registered(), `never-registered-${dialect}`];
      await Promise.all([hits.record(hit(messageIds[0]!, T0 + 400_000)), hits.record(click(messageIds[1]!, T0 + 400_500, 0)), hits.record(hit(messageIds[0]!, T0 + 430_000))]);
      expect(failedOnce).toBe(true);
      expect((await events(messageIds[0]!)).length).toBe(2);
      expect((await events(messageIds[1]!)).length).toBe(1);
      expect(await state(messageIds[0]!)).toMatchObject({ opens: 2, firstPartyHits: 2 });
      expect(await state(messageIds[1]!)).toMatchObject({ clicks: 1, firstPartyHits: 1 });
    });

    it('tells in-process listeners, after the commit, with the machine verdict', async () => {
      const hits = recorder();
      const messageId = await registered();
      const seen: EmailEvent[] = [];
      bus.on('email.opened', (payload) => void seen.push(payload));
      await hits.record(hit(messageId, T0 + 800_000));
      expect(seen).toHaveLength(1);
      expect(seen[0]!.event).toMatchObject({ status: 'opened', origin: 'first-party', messageId, machine: false });
      expect(seen[0]!.message?.state.opens).toBe(1);
    });
  });

  describe(`${dialect}: first-party hits reach outbound endpoints`, () => {
    let server: TestServer;
    let hooks: Receiver;

    beforeAll(async () => {
      server = await startServer(dialect, { outbound: { allowPrivate: true } });
      hooks = await receiver();
    });
    afterAll(async () => {
      await hooks.close();
      await server.stop();
    });

    it('posts email.clicked with its machine verdict', async () => {
      const { mailtrail, environmentId: environment } = server;
      expect((await server.api('/v1/webhook-endpoints', { body: { url: `${hooks.url}/clicks`, eventTypes: ['email.clicked'] } })).status).toBe(201);
      const hits = createHitRecorder({ store: mailtrail.store, log: silentLogger, metrics: mailtrail.metrics, now: Date.now, bus: new EventBus(silentLogger), afterCommit: () => mailtrail.worker?.wake() });
      await hits.record(click('msg-outbound', Date.now(), 3, { environmentId: environment, userAgent: 'curl/8.5.0' }));
      const received = await until(async () => hooks.requests, (requests) => requests.length > 0);
      expect(received).toHaveLength(1);
      const body = JSON.parse(received[0]!.body);
      expect(body.type).toBe('email.clicked');
      expect(body.data.event).toMatchObject({ origin: 'first-party', providerId: 'mailtrail', machine: true, machineKind: 'bot', url: 'https://shop.example.com/p/3?a=1&b=2' });
      expect(body.data.message).toMatchObject({ id: 'msg-outbound', origin: 'first-party', state: { clicks: 1, humanClicks: 0 } });
    });
  });
}
