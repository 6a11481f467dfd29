import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../src/core/event.js';
import { newId } from '../src/core/ids.js';
import type { IngestBatch, Integration, Store } from '../src/store/types.js';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.js';

const T0 = 1_700_000_000_000;

function event(overrides: Partial<ParsedEvent> & { dedupeKey: string }): ParsedEvent {
  return {
    status: 'delivered',
    nativeType: 'delivered',
    occurredAt: T0,
    providerMessageId: 'pm-1',
    recipient: 'ada@example.com',
    raw: JSON.stringify(overrides),
    ...overrides,
  };
}

/** Makes the database refuse an event with this dedupe key, as a full disk would: a real failure inside the transaction. */
/** Makes the database refuse inserts into `table` of rows where `column` = `value`: a storage failure mid-batch. */
async function failInsertsOf(context: TestStore, dedupeKey: string, table = 'events', column = 'dedupe_key'): Promise<void> {
  const { location } = context;
  if (location.databaseUrl) {
    const client = new pg.Client({ connectionString: location.databaseUrl, options: `-c search_path=${location.schema}` });
    await client.connect();
    await client.query(`create function refuse_${table}() returns trigger language plpgsql as $$ begin raise exception 'refused'; end $$`);
    await client.query(`create trigger refuse_${table} before insert on ${table} for each row when (new.${column} = '${dedupeKey}') execute function refuse_${table}()`);
    await client.end();
  } else {
    const db = new Database(join(location.dataDir, 'mailtrail.db'));
    db.exec(`create trigger refuse_${table} before insert on ${table} when new.${column} = '${dedupeKey}' begin select raise(abort, 'refused'); end`);
    db.close();
  }
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: store`, () => {
    let context: TestStore;
    let store: Store;
    let integration: Integration;
    const environmentId = 'env_a';

    function batch(events: ParsedEvent[], integrationId = integration.id): IngestBatch {
      return { environmentId, integrationId, provider: 'sendgrid', receivedAt: T0 + 60_000, events };
    }

    beforeEach(async () => {
      context = await freshStore(dialect);
      store = context.store;
      await store.createEnvironment({ id: environmentId, name: 'A', createdAt: T0 });
      await store.createEnvironment({ id: 'env_b', name: 'B', createdAt: T0 });
      integration = await store.createIntegration({
        id: newId('int'),
        environmentId,
        provider: 'sendgrid',
        name: 'SendGrid',
        activityTracking: true,
        allowUnsigned: false,
        signingKeyEnc: 'v1.sealed',
        credentialsEnc: null,
        settings: {},
        statusMapping: 'contract',
        createdAt: T0,
        updatedAt: T0,
      });
    });

    afterEach(async () => {
      await context.cleanup();
    });

    it('keeps integrations inside their environment', async () => {
      expect(await store.getIntegration(environmentId, integration.id)).toEqual(integration);
      expect(await store.getIntegration('env_b', integration.id)).toBeNull();
      expect(await store.updateIntegration('env_b', integration.id, { name: 'stolen' })).toBeNull();
      expect(await store.deleteIntegration('env_b', integration.id)).toBe(false);
      expect((await store.updateIntegration(environmentId, integration.id, { name: 'Renamed', updatedAt: T0 + 1 }))?.name).toBe('Renamed');
      expect(await store.listIntegrations(environmentId)).toHaveLength(1);
      expect(await store.deleteIntegration(environmentId, integration.id)).toBe(true);
      expect(await store.listIntegrations(environmentId)).toHaveLength(0);
    });

    it('finds an environment by the hash of its API key only', async () => {
      await store.createApiKey({ id: 'key_1', environmentId, name: 'default', keyHash: 'h1', keyPrefix: 'mt_', createdAt: T0 });
      expect(await store.findEnvironmentByKeyHash('h1')).toBe(environmentId);
      expect(await store.findEnvironmentByKeyHash('h2')).toBeNull();
    });

    it('creates a message for an event of an unknown message, and a retried batch changes nothing', async () => {
      const events = [
        event({ dedupeKey: 'e1', status: 'sent', nativeType: 'processed', occurredAt: T0 }),
        event({ dedupeKey: 'e2', status: 'delivered', occurredAt: T0 + 1000 }),
      ];
      const first = await store.ingest(batch(events));
      expect(first.map((result) => result.duplicate)).toEqual([false, false]);
      const messageId = first[0]!.event.messageId!;
      expect(first[1]!.event.messageId).toBe(messageId);
      const message = await store.getMessage(environmentId, messageId);
      expect(message).toMatchObject({ origin: 'provider', providerMessageId: 'pm-1', recipient: 'ada@example.com' });
      expect(message!.state).toMatchObject({ status: 'delivered', eventCount: 2 });

      const again = await store.ingest(batch(events));
      expect(again.map((result) => result.event.id)).toEqual(first.map((result) => result.event.id));
      expect(again.every((result) => result.duplicate)).toBe(true);
      expect((await store.getMessage(environmentId, messageId))!.state.eventCount).toBe(2);
      expect((await store.listMessageEvents(environmentId, messageId)).map((stored) => stored.dedupeKey)).toEqual(['e1', 'e2']);
    });

    it('counts a key repeated inside one batch once', async () => {
      const results = await store.ingest(batch([event({ dedupeKey: 'x', status: 'opened' }), event({ dedupeKey: 'x', status: 'opened' })]));
      expect(results[0]!.event.id).toBe(results[1]!.event.id);
      expect(results.map((result) => result.duplicate)).toEqual([false, true]);
      const message = await store.getMessage(environmentId, results[0]!.event.messageId!);
      expect(message!.state.opens).toBe(1);
    });

    it('correlates to a registered message by provider id and recipient, and by our id', async () => {
      const registered = await store.registerMessage(
        { environmentId, integrationId: integration.id, provider: 'sendgrid', providerMessageId: 'pm-1', recipient: 'ada@example.com', subject: 'Hi', tags: ['welcome'] },
        T0,
      );
      expect(registered.outcome).toBe('created');
      const other = await store.registerMessage(
        { environmentId, integrationId: integration.id, provider: 'sendgrid', id: 'order-42', providerMessageId: 'pm-2', recipient: 'bob@example.com' },
        T0,
      );
      const results = await store.ingest(
        batch([
          event({ dedupeKey: 'a', providerMessageId: 'pm-1', recipient: 'ada@example.com' }),
          event({ dedupeKey: 'b', providerMessageId: 'pm-1', recipient: 'cy@example.com' }),
          event({ dedupeKey: 'c', providerMessageId: 'unrelated', mailtrailId: 'order-42', status: 'opened' }),
        ]),
      );
      if (registered.outcome === 'conflict' || other.outcome === 'conflict') throw new Error('unexpected conflict');
      expect(results[0]!.event.messageId).toBe(registered.message.id);
      expect(results[1]!.event.messageId).not.toBe(registered.message.id);
      expect(results[2]!.event.messageId).toBe('order-42');
      expect((await store.getMessage(environmentId, 'order-42'))!.state).toMatchObject({ status: 'delivered', opens: 1 });
    });

    it('keeps an unmapped event as ignored without inventing a message for it', async () => {
      const [result] = await store.ingest(batch([event({ dedupeKey: 'i', status: null, nativeType: 'test_event', providerMessageId: undefined })]));
      expect(result!.event).toMatchObject({ ignored: true, status: null, messageId: null, nativeType: 'test_event' });
      const page = await store.listEvents(environmentId, { limit: 10 });
      expect(page.data.map((stored) => stored.nativeType)).toEqual(['test_event']);
      expect((await store.listMessages(environmentId, { limit: 10 })).data).toHaveLength(0);
    });

    it('merges a provider-created message into a later registration, re-keyed to the id given', async () => {
      const [first] = await store.ingest(batch([event({ dedupeKey: 'd1', status: 'delivered', occurredAt: T0 + 5000 })]));
      const provisional = first!.event.messageId!;
      const result = await store.registerMessage(
        { environmentId, integrationId: integration.id, provider: 'sendgrid', id: 'welcome-1', providerMessageId: 'pm-1', recipient: 'ada@example.com', subject: 'Welcome' },
        T0 + 10_000,
      );
      expect(result).toMatchObject({ outcome: 'merged', message: { id: 'welcome-1', origin: 'api', subject: 'Welcome', state: { status: 'delivered', eventCount: 1 } } });
      expect(await store.getMessage(environmentId, provisional)).toBeNull();
      expect((await store.listMessageEvents(environmentId, 'welcome-1')).map((stored) => stored.id)).toEqual([first!.event.id]);
      // later events land on the registered message
      const [later] = await store.ingest(batch([event({ dedupeKey: 'd2', status: 'opened', occurredAt: T0 + 20_000 })]));
      expect(later!.event.messageId).toBe('welcome-1');
    });

    it('answers a repeated registration as unchanged and a clashing one as a conflict', async () => {
      const input = { environmentId, integrationId: integration.id, provider: 'sendgrid', id: 'm-1', providerMessageId: 'pm-9', recipient: 'ada@example.com' };
      expect((await store.registerMessage(input, T0)).outcome).toBe('created');
      expect((await store.registerMessage(input, T0)).outcome).toBe('unchanged');
      expect((await store.registerMessage({ ...input, providerMessageId: 'pm-10' }, T0)).outcome).toBe('conflict');
      expect((await store.registerMessage({ ...input, id: 'm-2' }, T0)).outcome).toBe('conflict');
      // the same id in another environment is another message
      expect((await store.registerMessage({ ...input, environmentId: 'env_b', integrationId: 'int_b' }, T0)).outcome).toBe('created');
    });

    it('reaches the same state whatever order and batching the events arrive in', async () => {
      const events = [
        event({ dedupeKey: 's', status: 'sent', occurredAt: T0 }),
        event({ dedupeKey: 'd', status: 'delayed', occurredAt: T0 + 1000 }),
        event({ dedupeKey: 'v', status: 'delivered', occurredAt: T0 + 2000 }),
        event({ dedupeKey: 'o', status: 'opened', occurredAt: T0 + 3000, machine: true }),
        event({ dedupeKey: 'o2', status: 'opened', occurredAt: T0 + 4000 }),
        event({ dedupeKey: 'b', status: 'bounced', occurredAt: T0 + 9000, bounceType: 'hard', reason: '550' }),
      ];
      const states = [];
      for (const [index, order] of [events, [...events].reverse(), [events[3]!, events[5]!, events[0]!, events[2]!, events[1]!, events[4]!]].entries()) {
        const integrationId = `int_order_${index}`;
        for (const part of [order.slice(0, 2), order.slice(2, 3), order.slice(3)]) await store.ingest(batch(part, integrationId));
        const page = await store.listMessages(environmentId, { limit: 10, integrationId });
        states.push(page.data[0]!.state);
      }
      expect(states[0]).toMatchObject({ status: 'bounced', opens: 2, humanOpens: 1, eventCount: 6 });
      for (const state of states) {
        expect({ ...state, outcome: { ...state.outcome, eventId: '' } }).toEqual({ ...states[0]!, outcome: { ...states[0]!.outcome, eventId: '' } });
      }
    });

    it('filters and pages the feed newest first, stable while messages are added', async () => {
      for (let i = 0; i < 7; i++) {
        await store.registerMessage(
          {
            environmentId,
            integrationId: integration.id,
            provider: 'sendgrid',
            id: `m${i}`,
            providerMessageId: `pm${i}`,
            recipient: i % 2 ? 'odd@example.com' : 'even@example.com',
            subject: `Invoice ${i}`,
            tags: i < 3 ? ['billing'] : [],
          },
          T0 + i,
        );
      }
      const first = await store.listMessages(environmentId, { limit: 3 });
      expect(first.data.map((message) => message.id)).toEqual(['m6', 'm5', 'm4']);
      await store.registerMessage({ environmentId, integrationId: integration.id, provider: 'sendgrid', id: 'm7', providerMessageId: 'pm7', recipient: 'x@example.com' }, T0 + 7);
      const second = await store.listMessages(environmentId, { limit: 3, cursor: first.next! });
      const third = await store.listMessages(environmentId, { limit: 3, cursor: second.next! });
      expect([...second.data, ...third.data].map((message) => message.id)).toEqual(['m3', 'm2', 'm1', 'm0']);
      expect(third.next).toBeNull();

      expect((await store.listMessages(environmentId, { limit: 10, tag: 'billing' })).data.map((message) => message.id)).toEqual(['m2', 'm1', 'm0']);
      expect((await store.listMessages(environmentId, { limit: 10, recipient: 'ODD@example.com' })).data).toHaveLength(3);
      expect((await store.listMessages(environmentId, { limit: 10, q: 'invoice 5' })).data.map((message) => message.id)).toEqual(['m5']);
      expect((await store.listMessages(environmentId, { limit: 10, q: '100%' })).data).toHaveLength(0);
      expect((await store.listMessages(environmentId, { limit: 10, from: T0 + 2, to: T0 + 4 })).data.map((message) => message.id)).toEqual(['m3', 'm2']);
      expect((await store.listMessages('env_b', { limit: 10 })).data).toHaveLength(0);
    });

    it('claims an idempotency key once, replays it after completion, and refuses another body', async () => {
      const key = { environmentId, integrationId: integration.id, key: 'k1', bodyHash: 'h', now: T0 };
      expect(await store.claimIdempotencyKey(key)).toEqual({ state: 'claimed' });
      expect(await store.claimIdempotencyKey(key)).toEqual({ state: 'in_flight' });
      expect(await store.claimIdempotencyKey({ ...key, bodyHash: 'other' })).toEqual({ state: 'mismatch' });
      await store.ingest(batch([event({ dedupeKey: 'k' })]));
      await store.completeIdempotencyKey({ environmentId, integrationId: integration.id, key: 'k1', response: '1' });
      expect(await store.claimIdempotencyKey(key)).toEqual({ state: 'replay', response: '1' });
      // after 24 h the key is free again
      expect(await store.claimIdempotencyKey({ ...key, now: T0 + 25 * 3600_000 })).toEqual({ state: 'claimed' });
      await store.releaseIdempotencyKey(key);
      expect(await store.claimIdempotencyKey(key)).toEqual({ state: 'claimed' });
    });

    it('claims a nonce once per scope, lets the same body through again, refuses another body, and prunes old ones', async () => {
      const claim = (nonce: string, bodyHash: string, scope = 'key:a', now = T0) => store.claimNonce({ scope, nonce, bodyHash, now });
      expect(await claim('t1', 'h1')).toBe('new');
      expect(await claim('t1', 'h1')).toBe('retry');
      expect(await claim('t1', 'h2')).toBe('replay');
      expect(await claim('t1', 'h2', 'key:b')).toBe('new');
      const racing = await Promise.all(Array.from({ length: 8 }, (_, index) => claim('t2', `h${index}`)));
      expect(racing.filter((outcome) => outcome === 'new')).toHaveLength(1);
      expect(racing.filter((outcome) => outcome === 'replay')).toHaveLength(7);
      expect(await store.pruneNonces(T0 + 1)).toBe(3);
      expect(await claim('t1', 'h2')).toBe('new');
    });

    it('keeps integration notices inside their environment, newest first', async () => {
      const notice = (id: string, createdAt: number, environment = environmentId) =>
        store.addIntegrationNotice({ id, environmentId: environment, integrationId: integration.id, kind: 'subscription_confirmed', topic: 'arn:aws:sns:us-east-1:123456789012:t', detail: 'ok', createdAt });
      await notice('ntc_1', T0);
      await notice('ntc_2', T0 + 1);
      expect((await store.listIntegrationNotices(environmentId, integration.id, 10)).map((n) => n.id)).toEqual(['ntc_2', 'ntc_1']);
      expect(await store.listIntegrationNotices('env_b', integration.id, 10)).toEqual([]);
    });

    it('follows a mailtrail_id only to a message of the same integration', async () => {
      await store.registerMessage({ environmentId, integrationId: integration.id, provider: 'sendgrid', id: 'welcome-1', providerMessageId: 'pm-w', recipient: 'ada@example.com' }, T0);
      // another integration of the environment (say one that accepts unsigned requests) names that id
      const [forged] = await store.ingest(batch([event({ dedupeKey: 'f1', status: 'complaint', mailtrailId: 'welcome-1', providerMessageId: 'pm-x' })], 'int_other'));
      expect(forged!.event.messageId).not.toBe('welcome-1');
      expect((await store.getMessage(environmentId, 'welcome-1'))!.state).toMatchObject({ complained: false, eventCount: 0 });
      // nor can a registration on the other integration take the message over
      const takeover = await store.registerMessage({ environmentId, integrationId: 'int_other', provider: 'sendgrid', id: 'welcome-1', providerMessageId: 'pm-x', recipient: 'ada@example.com' }, T0);
      expect(takeover.outcome).toBe('conflict');
    });

    it('makes one message of one mailtrail_id, whatever recipients its events name', async () => {
      const results = await store.ingest(
        batch([
          event({ dedupeKey: 'r1', mailtrailId: 'order-1', providerMessageId: 'pm-o', recipient: 'a@example.com' }),
          event({ dedupeKey: 'r2', mailtrailId: 'order-1', providerMessageId: 'pm-o', recipient: 'b@example.com', status: 'opened' }),
        ]),
      );
      expect(results.map((result) => result.event.messageId)).toEqual(['order-1', 'order-1']);
      const message = await store.getMessage(environmentId, 'order-1');
      expect(message).toMatchObject({ recipient: 'a@example.com', state: { eventCount: 2, opens: 1 } });
      expect((await store.listMessages(environmentId, { limit: 10 })).data).toHaveLength(1);
    });

    it('leaves nothing behind from a batch that failed, and the next batch is unaffected', async () => {
      await failInsertsOf(context, 'boom');
      await expect(store.ingest(batch([event({ dedupeKey: 'ok-1', providerMessageId: 'pm-ghost' }), event({ dedupeKey: 'boom', providerMessageId: 'pm-ghost' })]))).rejects.toThrow();
      await store.ingest(batch([event({ dedupeKey: 'ok-2', providerMessageId: 'pm-real' })]));
      const messages = (await store.listMessages(environmentId, { limit: 10 })).data;
      expect(messages.map((message) => message.providerMessageId)).toEqual(['pm-real']);
      expect((await store.listEvents(environmentId, { limit: 10 })).data.map((stored) => stored.dedupeKey)).toEqual(['ok-2']);
    });

    it('writes the outbox in the ingest transaction: a failed delivery insert leaves no event, and a good batch gets its deliveries', async () => {
      await store.createEndpoint({
        id: 'ep_1', environmentId, url: 'https://hooks.example.com/', description: null, eventTypes: ['*'], enabled: true, headers: {}, rateLimit: null,
        secretEnc: 'sealed', previousSecretEnc: null, previousSecretUntil: null, disabledReason: null, failingSince: null, createdAt: T0, updatedAt: T0,
      });
      await failInsertsOf(context, 'email.bounced', 'deliveries', 'event_type');
      await expect(store.ingest(batch([event({ dedupeKey: 'd-1', status: 'delivered' }), event({ dedupeKey: 'b-1', status: 'bounced', bounceType: 'hard' })]))).rejects.toThrow();
      expect((await store.listEvents(environmentId, { limit: 10 })).data).toEqual([]);
      expect((await store.listDeliveries(environmentId, 'ep_1', { limit: 10 })).data).toEqual([]);
      await store.ingest(batch([event({ dedupeKey: 'd-2', status: 'delivered' })]));
      expect((await store.listDeliveries(environmentId, 'ep_1', { limit: 10 })).data.map((delivery) => delivery.eventType)).toEqual(['email.delivered']);
    });

    it('keeps every event while registrations and batches for the same messages run at the same time', async () => {
      const work: Promise<unknown>[] = [];
      for (let b = 0; b < 8; b++) {
        work.push(store.ingest(batch(Array.from({ length: 30 }, (_, i) => event({ dedupeKey: `mix${b}-${i}`, providerMessageId: `pm-mix-${i % 6}`, status: 'opened', occurredAt: T0 + i })))));
        if (b < 6) {
          work.push(
            store.registerMessage(
              { environmentId, integrationId: integration.id, provider: 'sendgrid', id: `reg-${b}`, providerMessageId: `pm-mix-${b}`, recipient: 'ada@example.com' },
              T0 + b,
            ),
          );
        }
      }
      await Promise.all(work);
      const messages = (await store.listMessages(environmentId, { limit: 50 })).data;
      expect(messages.map((message) => message.id).sort()).toEqual(['reg-0', 'reg-1', 'reg-2', 'reg-3', 'reg-4', 'reg-5']);
      expect(messages.reduce((sum, message) => sum + message.state.opens, 0)).toBe(240);
      for (const message of messages) expect((await store.listMessageEvents(environmentId, message.id)).length).toBe(message.state.eventCount);
    });

    it('fails only the failing batch among batches stored at the same time', async () => {
      await failInsertsOf(context, 'boom');
      const outcomes = await Promise.allSettled([
        store.ingest(batch([event({ dedupeKey: 'g1', providerMessageId: 'pm-a' })])),
        store.ingest(batch([event({ dedupeKey: 'g2', providerMessageId: 'pm-b' }), event({ dedupeKey: 'boom', providerMessageId: 'pm-b' })])),
        store.ingest(batch([event({ dedupeKey: 'g3', providerMessageId: 'pm-c' })])),
      ]);
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const messages = (await store.listMessages(environmentId, { limit: 10 })).data;
      expect(messages.map((message) => message.providerMessageId).sort()).toEqual(['pm-a', 'pm-c']);
      expect((await store.listEvents(environmentId, { limit: 10 })).data.map((stored) => stored.dedupeKey).sort()).toEqual(['g1', 'g3']);
    });

    it('ingests concurrent copies of one batch exactly once', async () => {
      const events = Array.from({ length: 50 }, (_, i) => event({ dedupeKey: `c${i}`, providerMessageId: `pm-${i % 5}`, status: i % 2 ? 'opened' : 'delivered', occurredAt: T0 + i }));
      const outcomes = await Promise.all(Array.from({ length: 4 }, () => store.ingest(batch(events))));
      const ids = outcomes.map((results) => results.map((result) => result.event.id));
      for (const list of ids) expect(list).toEqual(ids[0]);
      expect(outcomes.flat().filter((result) => !result.duplicate)).toHaveLength(50);
      const page = await store.listMessages(environmentId, { limit: 10 });
      expect(page.data).toHaveLength(5);
      expect(page.data.reduce((sum, message) => sum + message.state.eventCount, 0)).toBe(50);
      expect(page.data.reduce((sum, message) => sum + message.state.opens, 0)).toBe(25);
    });

    it('counts concurrent batches for the same messages without losing an update', async () => {
      const batches = Array.from({ length: 6 }, (_, b) =>
        Array.from({ length: 20 }, (_, i) => event({ dedupeKey: `p${b}-${i}`, providerMessageId: `pm-${i % 3}`, status: 'opened', occurredAt: T0 + i })),
      );
      await Promise.all(batches.map((events) => store.ingest(batch(events))));
      const page = await store.listMessages(environmentId, { limit: 10 });
      expect(page.data.map((message) => message.state.opens).reduce((a, b) => a + b, 0)).toBe(120);
    });

    if (dialect === 'postgres') {
      for (const withId of [false, true]) {
        it(`keeps every event when a registration${withId ? ' with a new id' : ''} and an ingest wait on the same message`, async () => {
          const [first] = await store.ingest(batch([event({ dedupeKey: 'e1', status: 'sent', occurredAt: T0 })]));
          const provisional = first!.event.messageId!;
          // a third session holds the message's row lock, so the registration and then the ingest queue behind it
          const blocker = new pg.Client({ connectionString: context.location.databaseUrl, options: `-c search_path=${context.location.schema}` });
          await blocker.connect();
          await blocker.query('begin');
          await blocker.query('select id from messages where id = $1 for update', [provisional]);
          const registration = store.registerMessage(
            { environmentId, integrationId: integration.id, provider: 'sendgrid', providerMessageId: 'pm-1', recipient: 'ada@example.com', ...(withId ? { id: 'my-id' } : {}) },
            T0 + 5,
          );
          await new Promise((resolve) => setTimeout(resolve, 200));
          const ingest = store.ingest(batch([event({ dedupeKey: 'e2', status: 'delivered', occurredAt: T0 + 1000 })]));
          await new Promise((resolve) => setTimeout(resolve, 200));
          await blocker.query('commit');
          await blocker.end();
          await registration;
          const [second] = await ingest;
          const id = withId ? 'my-id' : provisional;
          expect(second!.event.messageId).toBe(id);
          const message = await store.getMessage(environmentId, id);
          expect(message!.state).toMatchObject({ status: 'delivered', eventCount: 2 });
          expect((await store.listMessageEvents(environmentId, id)).map((stored) => stored.dedupeKey)).toEqual(['e1', 'e2']);
        });
      }
    }
  });
}
