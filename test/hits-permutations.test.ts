import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ParsedEvent } from '../src/core/event.js';
import { SHIPPED_MACHINE_RANGES } from '../src/engagement/classify.js';
import type { TrackingHit } from '../src/engagement/hit.js';
import { hitEvents } from '../src/ingest/hits.js';
import type { Store } from '../src/store/types.js';
import { DIALECTS, freshStore, type TestStore } from './helpers/stores.js';

const T0 = 1_700_000_000_000;
const environmentId = 'env_perm';
const integrationId = 'int_generic';
const toEvent = hitEvents(SHIPPED_MACHINE_RANGES);

// People, Apple's privacy proxy, Gmail's image proxy, a script; from a home network, Apple's and a mail gateway's.
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:131.0) Gecko/20100101 Firefox/131.0',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)',
  'Mozilla/5.0',
  'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
  'python-requests/2.32.3',
];
const ADDRESSES = ['198.51.100.7', '17.58.100.1', '40.92.1.1'];

interface HitSpec {
  kind: 'open' | 'click';
  at: number;
  agent: number;
  head: boolean;
  language: boolean;
  link: number;
  address: number;
}
interface ProviderSpec {
  status: 'sent' | 'delivered' | 'opened';
  at: number;
  machine: boolean;
}

// Times on a 250 ms grid over 30 s, so hits before delivery, at delivery and in bursts of 2 s are all common.
const time = fc.integer({ min: 0, max: 120 }).map((step) => T0 + step * 250);
// Over 3 s: bursts past BURST_CAP, whose count saturates.
const crowdedTime = fc.integer({ min: 0, max: 12 }).map((step) => T0 + step * 250);
const hitSpecAt = (at: fc.Arbitrary<number>) => fc.record({
  kind: fc.constantFrom('open' as const, 'click' as const),
  at,
  agent: fc.nat({ max: AGENTS.length - 1 }),
  head: fc.boolean(),
  language: fc.boolean(),
  link: fc.nat({ max: 3 }),
  address: fc.nat({ max: ADDRESSES.length - 1 }),
});
const hitSpec = hitSpecAt(time);
const providerSpec = fc.record({ status: fc.constantFrom('sent' as const, 'delivered' as const, 'opened' as const), at: time, machine: fc.boolean() });
/** An order of arrival: a permutation, cut into batches, each a provider batch or a hit batch, stored one after another or all at once. */
const arrival = fc.record({ seed: fc.integer(), cuts: fc.array(fc.nat(), { maxLength: 6 }), concurrent: fc.boolean() });

type Item = { hit: HitSpec; index: number } | { provider: ProviderSpec; index: number };

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let state = seed >>> 0 || 1;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) >>> 0;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: machine verdicts and message state whatever the order of events and hits`, () => {
    let context: TestStore;
    let store: Store;
    let firstParty: string;
    let runs = 0;

    beforeAll(async () => {
      context = await freshStore(dialect);
      store = context.store;
      await store.createEnvironment({ id: environmentId, name: 'perm', createdAt: T0 });
      await store.createIntegration({
        id: integrationId, environmentId, provider: 'generic', name: 'generic', activityTracking: true, allowUnsigned: true,
        signingKeyEnc: null, credentialsEnc: null, settings: {}, statusMapping: 'contract', createdAt: T0, updatedAt: T0,
      });
      firstParty = (await store.firstPartyIntegration(environmentId, T0))!.id;
    });
    afterAll(() => context.cleanup());

    /** Stores every item in this order of arrival on a message of its own; returns its state and each item's verdict. */
    async function play(items: Item[], order: { seed: number; cuts: number[]; concurrent: boolean }) {
      const tag = `${dialect}-${++runs}`;
      const messageId = `msg-${tag}`;
      const providerMessageId = `pm-${tag}`;
      const registered = await store.registerMessage({ environmentId, integrationId, provider: 'generic', id: messageId, providerMessageId, recipient: 'ada@example.com' }, T0 - 60_000);
      expect(registered.outcome).toBe('created');

      const shuffled = shuffle(items, order.seed);
      const points = [...new Set(order.cuts.map((cut) => cut % (shuffled.length + 1)))].sort((a, b) => a - b);
      const batches: Item[][] = [];
      let start = 0;
      for (const point of [...points, shuffled.length]) {
        batches.push(shuffled.slice(start, point));
        start = point;
      }
      const steps = batches.flatMap((batch) => {
        const hits = batch.filter((item): item is Extract<Item, { hit: HitSpec }> => 'hit' in item);
        const provider = batch.filter((item): item is Extract<Item, { provider: ProviderSpec }> => 'provider' in item);
        const parts: (() => Promise<unknown>)[] = [];
        if (provider.length > 0) {
          const events: ParsedEvent[] = provider.map(({ provider: spec, index }) => ({
            status: spec.status, nativeType: spec.status, occurredAt: spec.at, dedupeKey: `${tag}-p${index}`, providerMessageId, recipient: 'ada@example.com',
            ...(spec.status === 'opened' && spec.machine ? { machine: true, machineReason: 'provider: sg_machine_open' } : {}), raw: '{}',
          }));
          parts.push(() => store.ingest({ environmentId, integrationId, provider: 'generic', receivedAt: T0 + 600_000, events }));
        }
        if (hits.length > 0) {
          const events = hits.map(({ hit: spec, index }) => ({ ...toEvent(trackingHit(messageId, spec)), dedupeKey: `${tag}-h${index}` }));
          parts.push(() => store.ingest({ environmentId, integrationId: firstParty, provider: 'mailtrail', receivedAt: T0 + 600_000, origin: 'first-party', events }));
        }
        return order.seed % 2 === 0 ? parts : parts.reverse();
      });
      if (order.concurrent) await Promise.all(steps.map((step) => step()));
      else for (const step of steps) await step();

      const message = (await store.getMessage(environmentId, messageId))!;
      const verdicts = Object.fromEntries(
        (await store.listMessageEvents(environmentId, messageId)).map((event) => [event.dedupeKey.slice(tag.length + 1), [event.machine, event.machineKind ?? null, event.machineReason ?? null]]),
      );
      return { state: message.state, verdicts };
    }

    const sameEverywhere = (hits: fc.Arbitrary<HitSpec[]>, runs: number) =>
      fc.assert(
        fc.asyncProperty(hits, fc.array(providerSpec, { maxLength: 4 }), arrival, arrival, async (hits, provider, first, second) => {
          const items: Item[] = [...hits.map((hit, index) => ({ hit, index })), ...provider.map((spec, index) => ({ provider: spec, index }))];
          const reference = await play(items, { seed: 0, cuts: [], concurrent: false });
          const a = await play(items, first);
          const b = await play(items, second);
          expect(Object.keys(reference.verdicts)).toHaveLength(items.length);
          const { outcome: _ignored, ...comparable } = reference.state;
          for (const other of [a, b]) {
            expect(other.verdicts).toEqual(reference.verdicts);
            // the outcome names its event by id, which differs between runs; everything else must be equal
            expect({ ...other.state, outcome: undefined }).toEqual({ ...comparable, outcome: undefined });
            expect(other.state.outcome?.status ?? null).toBe(reference.state.outcome?.status ?? null);
          }
        }),
        { numRuns: runs },
      );

    it('gives the same state and the same verdict of every hit for any order and batching', () => sameEverywhere(fc.array(hitSpec, { minLength: 1, maxLength: 8 }), 25));

    it('does so for bursts past the counting cap', () => sameEverywhere(fc.array(hitSpecAt(crowdedTime), { minLength: 11, maxLength: 16 }), 8));
  });
}

function trackingHit(messageId: string, spec: HitSpec): TrackingHit {
  return {
    kind: spec.kind,
    environmentId,
    messageId,
    linkIndex: spec.kind === 'click' ? spec.link : null,
    url: spec.kind === 'click' ? `https://example.com/${spec.link}` : null,
    occurredAt: spec.at,
    method: spec.head ? 'HEAD' : 'GET',
    userAgent: AGENTS[spec.agent]!,
    ip: ADDRESSES[spec.address]!,
    storedIp: null,
    headers: { accept: spec.kind === 'open' ? 'image/*' : 'text/html', 'accept-language': spec.language ? 'en-GB' : '' },
  };
}
