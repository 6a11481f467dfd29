import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../src/core/event.js';
import type { Message, NewMessage, Store } from '../src/store/types.js';
import { DIALECTS, execute, freshStore, type TestStore } from './helpers/stores.js';

const T0 = 1_700_000_000_000;
const environmentId = 'env_a';

/** One thing that happens to a provider id: a registration, or a batch of events (a recipient of '' names none). */
type Step = { register: string } | { events: { key: string; status: 'sent' | 'delivered' | 'opened'; recipient: string; at: number }[] };

for (const dialect of DIALECTS) {
  describe(`${dialect}: correlating events that name no recipient`, () => {
    let context: TestStore;
    let store: Store;
    let runs = 0;

    beforeAll(async () => {
      context = await freshStore(dialect);
      store = context.store;
      await store.createEnvironment({ id: environmentId, name: 'A', createdAt: T0 });
    });
    afterAll(() => context.cleanup());

    /** A provider id of its own, on an integration of its own, for each scenario. */
    function scenario() {
      const integrationId = `int_${++runs}`;
      const providerMessageId = `pm-${runs}`;
      const event = (dedupeKey: string, recipient: string, overrides: Partial<ParsedEvent> = {}): ParsedEvent => ({
        status: 'sent',
        nativeType: 'sent',
        occurredAt: T0,
        dedupeKey,
        providerMessageId,
        ...(recipient ? { recipient } : {}),
        raw: JSON.stringify({ dedupeKey, recipient }),
        ...overrides,
      });
      const ingest = (events: ParsedEvent[], receivedAt = T0 + runs) => store.ingest({ environmentId, integrationId, provider: 'generic', receivedAt, events });
      const register = async (recipient: string, now: number, extra: Partial<NewMessage> = {}): Promise<Message> => {
        const result = await store.registerMessage({ environmentId, integrationId, provider: 'generic', providerMessageId, recipient, ...extra }, now);
        if (result.outcome === 'conflict') throw new Error(result.reason);
        return result.message;
      };
      const messages = async () => (await store.listMessages(environmentId, { limit: 50, integrationId })).data;
      const timeline = async (id: string) => (await store.listMessageEvents(environmentId, id)).map((stored) => stored.dedupeKey).sort();
      const run = async (step: Step, at: number) => {
        if ('register' in step) await register(step.register, at);
        else await ingest(step.events.map(({ key, status, recipient, at: occurredAt }) => event(key, recipient, { status, nativeType: status, occurredAt })), at);
      };
      return { integrationId, providerMessageId, event, ingest, register, messages, timeline, run };
    }

    it('sends an event that names no recipient to the earliest created of several messages, and makes none', async () => {
      const { event, ingest, register, messages, timeline } = scenario();
      // ids chosen against creation order: the rule is the creation time, not the id
      const bob = await register('bob@example.com', T0 + 1, { id: 'a-bob' });
      const ada = await register('ada@example.com', T0 + 2, { id: 'b-ada' });
      const [sent] = await ingest([event('sent', '')]);
      expect(sent!.event.messageId).toBe(bob.id);
      const [delivered] = await ingest([event('delivered-ada', 'ada@example.com', { status: 'delivered' })]);
      expect(delivered!.event.messageId).toBe(ada.id);
      expect((await messages()).map((message) => message.id).sort()).toEqual(['a-bob', 'b-ada']);
      expect(await timeline(bob.id)).toEqual(['sent']);
    });

    it('keeps recipient-less events on one message when a registration that began first commits last', async () => {
      const { event, ingest, register, messages, timeline } = scenario();
      // a recipient's event makes the first message of the provider id; an unnamed event follows it there
      const [carol] = await ingest([event('carol-1', 'carol@example.com')], T0 + 101);
      const [first] = await ingest([event('unnamed-1', '', { status: 'delivered' })], T0 + 102);
      expect(first!.event.messageId).toBe(carol!.event.messageId);
      // a registration whose request started earlier (or on a node whose clock is behind) commits after them
      const dave = await register('dave@example.com', T0 + 100);
      expect(dave.id).not.toBe(carol!.event.messageId);
      const [second] = await ingest([event('unnamed-2', '', { status: 'opened' })], T0 + 103);
      expect(second!.event.messageId).toBe(carol!.event.messageId);
      expect(await timeline(carol!.event.messageId!)).toEqual(['carol-1', 'unnamed-1', 'unnamed-2']);
      expect((await messages()).map((message) => message.recipient).sort()).toEqual(['carol@example.com', 'dave@example.com']);
    });

    it('gives a recipient-less message the recipient of the next event, and the recipients after it messages of their own', async () => {
      const { event, ingest, messages } = scenario();
      const [orphan] = await ingest([event('first', '')], T0);
      const [ada] = await ingest([event('ada-1', 'ada@example.com', { status: 'delivered' })], T0 + 1);
      expect(ada!.event.messageId).toBe(orphan!.event.messageId);
      const [bob] = await ingest([event('bob-1', 'bob@example.com', { status: 'delivered' })], T0 + 2);
      expect(bob!.event.messageId).not.toBe(orphan!.event.messageId);
      expect((await messages()).map((message) => message.recipient).sort()).toEqual(['ada@example.com', 'bob@example.com']);
    });

    it('leaves a recipient-less message alone when other messages share its provider id', async () => {
      const { event, ingest, register, messages } = scenario();
      // as stored before recipient-less events were correlated: such a message beside a recipient's
      const [orphan] = await ingest([event('ada-1', 'ada@example.com')], T0);
      await ingest([event('bob-1', 'bob@example.com')], T0 + 1);
      await execute(context, `update messages set recipient = '' where id = '${orphan!.event.messageId}'`);

      const [cy] = await ingest([event('cy-1', 'cy@example.com')], T0 + 2);
      expect(cy!.event.messageId).not.toBe(orphan!.event.messageId);
      const registered = await register('ada@example.com', T0 + 3);
      expect(registered.id).not.toBe(orphan!.event.messageId);
      // the earliest still takes what names no recipient
      const [unnamed] = await ingest([event('unnamed', '', { status: 'opened' })], T0 + 4);
      expect(unnamed!.event.messageId).toBe(orphan!.event.messageId);
      expect((await messages()).map((message) => message.recipient ?? '').sort()).toEqual(['', 'ada@example.com', 'bob@example.com', 'cy@example.com']);
    });

    it('makes one message of a recipient-less event and an event with a recipient in one batch, in either order', async () => {
      for (const reversed of [false, true]) {
        const { event, ingest, messages } = scenario();
        const events = [event('sent', ''), event('delivered', 'ada@example.com', { status: 'delivered', occurredAt: T0 + 1 })];
        const results = await ingest(reversed ? events.reverse() : events);
        expect(new Set(results.map((result) => result.event.messageId)).size).toBe(1);
        expect(await messages()).toMatchObject([{ recipient: 'ada@example.com', state: { status: 'delivered', eventCount: 2 } }]);
      }
    });

    it('merges the message a recipient-less event made into a registration with an id of its own', async () => {
      const { event, ingest, register, messages, timeline } = scenario();
      const [sent] = await ingest([event('sent', '')], T0);
      const registered = await register('ada@example.com', T0 + 1, { id: 'order-7' });
      expect(registered).toMatchObject({ id: 'order-7', recipient: 'ada@example.com', state: { status: 'sent', eventCount: 1 } });
      expect(await store.getMessage(environmentId, sent!.event.messageId!)).toBeNull();
      expect(await timeline('order-7')).toEqual(['sent']);
      expect((await messages()).map((message) => message.id)).toEqual(['order-7']);
    });

    it('attaches an ignored recipient-less event to the message without changing it', async () => {
      const { event, ingest, register } = scenario();
      const ada = await register('ada@example.com', T0);
      const [ignored] = await ingest([event('odd', '', { status: null, nativeType: 'odd_type' })]);
      expect(ignored!.event.messageId).toBe(ada.id);
      expect((await store.getMessage(environmentId, ada.id))!.state.eventCount).toBe(0);
    });

    it('reaches one message with the same state whatever the order of the registration and the events', async () => {
      const steps: Step[] = [
        { register: 'ada@example.com' },
        { events: [{ key: 'sent', status: 'sent', recipient: '', at: T0 }] },
        { events: [{ key: 'delivered', status: 'delivered', recipient: '', at: T0 + 1000 }] },
        { events: [{ key: 'opened', status: 'opened', recipient: 'ada@example.com', at: T0 + 2000 }] },
      ];
      const finals: unknown[] = [];
      await fc.assert(
        fc.asyncProperty(fc.shuffledSubarray(steps, { minLength: steps.length }), async (order) => {
          const { messages, timeline, run } = scenario();
          for (const [index, step] of order.entries()) await run(step, T0 + index);
          const [message, ...others] = await messages();
          expect(others).toEqual([]);
          expect(message).toMatchObject({ recipient: 'ada@example.com', origin: 'api' });
          expect(await timeline(message!.id)).toEqual(['delivered', 'opened', 'sent']);
          const { outcome, ...state } = message!.state;
          finals.push({ ...state, outcome: { ...outcome, eventId: undefined } });
        }),
        { numRuns: 24 },
      );
      for (const state of finals) expect(state).toEqual(finals[0]);
    });

    it('keeps one message per recipient of a batch send, each with its own events, in any order', async () => {
      const steps: Step[] = [
        { register: 'ada@example.com' },
        { register: 'bob@example.com' },
        { events: [{ key: 'sent', status: 'sent', recipient: '', at: T0 }] },
        { events: [{ key: 'ada', status: 'delivered', recipient: 'ada@example.com', at: T0 + 1 }] },
        { events: [{ key: 'bob', status: 'delivered', recipient: 'bob@example.com', at: T0 + 2 }] },
      ];
      await fc.assert(
        fc.asyncProperty(fc.shuffledSubarray(steps, { minLength: steps.length }), async (order) => {
          const { messages, timeline, run } = scenario();
          for (const [index, step] of order.entries()) await run(step, T0 + index);
          const stored = await messages();
          expect(stored.map((message) => message.recipient).sort()).toEqual(['ada@example.com', 'bob@example.com']);
          const byRecipient = new Map(await Promise.all(stored.map(async (message) => [message.recipient, await timeline(message.id)] as const)));
          expect(byRecipient.get('ada@example.com')).toContain('ada');
          expect(byRecipient.get('bob@example.com')).toContain('bob');
          expect([...byRecipient.values()].flat().sort()).toEqual(['ada', 'bob', 'sent']);
        }),
        { numRuns: 24 },
      );
    });

    it('makes one message when a registration and batches with and without a recipient arrive at the same time', async () => {
      const scenarios = Array.from({ length: 12 }, () => scenario());
      await Promise.all(
        scenarios.flatMap(({ event, ingest, register }) => [
          ingest([event('sent', '')]),
          ingest([event('opened', '', { status: 'opened', occurredAt: T0 + 2 })]),
          ingest([event('delivered', 'ada@example.com', { status: 'delivered', occurredAt: T0 + 1 })]),
          register('ada@example.com', T0 + 5),
        ]),
      );
      for (const { messages, timeline } of scenarios) {
        const stored = await messages();
        expect(stored).toMatchObject([{ recipient: 'ada@example.com', origin: 'api', state: { eventCount: 3, opens: 1 } }]);
        expect(await timeline(stored[0]!.id)).toEqual(['delivered', 'opened', 'sent']);
      }
    });

    it("makes one message per recipient when a batch send's first events arrive at the same time", async () => {
      const { event, ingest, messages } = scenario();
      const recipients = Array.from({ length: 30 }, (_, i) => `r${i}@example.com`);
      const results = await Promise.all(recipients.map((recipient) => ingest([event(`delivered-${recipient}`, recipient, { status: 'delivered' })])));
      const stored = await messages();
      expect(stored.map((message) => message.recipient).sort()).toEqual([...recipients].sort());
      expect(new Set(results.map(([result]) => result!.event.messageId)).size).toBe(recipients.length);
    });

    it('stores a recipient-less event posted twice, and concurrently, once', async () => {
      const { event, ingest, register, timeline } = scenario();
      const ada = await register('ada@example.com', T0);
      const outcomes = await Promise.all([ingest([event('sent', '')]), ingest([event('sent', '')]), ingest([event('sent', '')])]);
      expect(new Set(outcomes.map(([result]) => result!.event.id)).size).toBe(1);
      expect(outcomes.filter(([result]) => !result!.duplicate)).toHaveLength(1);
      expect(await timeline(ada.id)).toEqual(['sent']);
      expect((await store.getMessage(environmentId, ada.id))!.state.eventCount).toBe(1);
    });
  });
}
