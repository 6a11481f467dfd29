import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyVerdictChanges, mergeMessageState, reduceMessageState, type StateEvent } from './message-state.js';
import { STATUSES, BOUNCE_TYPES } from './vocabulary.js';

const eventArbitrary = fc.record({
  id: fc.string({ minLength: 1, maxLength: 6 }),
  status: fc.oneof(fc.constantFrom(...STATUSES), fc.constant(null)),
  // a small range so that equal timestamps, the hard case, are common
  occurredAt: fc.integer({ min: 0, max: 5 }),
  machine: fc.boolean(),
  echo: fc.boolean(),
  firstParty: fc.boolean(),
  bounceType: fc.option(fc.constantFrom(...BOUNCE_TYPES), { nil: null }),
  reason: fc.option(fc.string({ maxLength: 4 }), { nil: null }),
});

const eventSet = fc.uniqueArray(eventArbitrary, { selector: (event) => event.id, maxLength: 25 });

describe('message state', () => {
  it('is the same for every permutation of the same events', () => {
    fc.assert(
      fc.property(
        eventSet.chain((events) => fc.tuple(fc.constant(events), fc.shuffledSubarray(events, { minLength: events.length }))),
        ([events, shuffled]) => {
          expect(reduceMessageState(shuffled)).toEqual(reduceMessageState(events));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('is the same when events arrive in batches of any split', () => {
    fc.assert(
      fc.property(eventSet, fc.array(fc.nat(), { maxLength: 5 }), (events, cuts) => {
        const points = [...new Set(cuts.map((cut) => cut % (events.length + 1)))].sort((a, b) => a - b);
        let state = reduceMessageState([]);
        let start = 0;
        for (const point of [...points, events.length]) {
          state = mergeMessageState(state, events.slice(start, point));
          start = point;
        }
        expect(state).toEqual(reduceMessageState(events));
      }),
      { numRuns: 2000 },
    );
  });

  it('counts changed machine verdicts as reducing the events with the new verdicts would', () => {
    fc.assert(
      fc.property(eventSet, fc.array(fc.boolean(), { maxLength: 25 }), (events, flips) => {
        const revised = events.map((event, index) => (flips[index] ? { ...event, machine: !event.machine } : event));
        const changes = events.flatMap((event, index) => (flips[index] ? [{ ...event, wasMachine: event.machine, machine: !event.machine }] : []));
        const { state, stale } = applyVerdictChanges(reduceMessageState(events), changes);
        const expected = reduceMessageState(revised);
        // what the caller looks up again among the events
        if (stale.open) state.firstHumanOpenAt = expected.firstHumanOpenAt;
        if (stale.click) state.firstHumanClickAt = expected.firstHumanClickAt;
        expect(state).toEqual(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('takes the latest delivery outcome by provider time, not arrival order', () => {
    const events: StateEvent[] = [
      { id: 'evt_b', status: 'delivered', occurredAt: 2000 },
      { id: 'evt_a', status: 'sent', occurredAt: 1000 },
    ];
    expect(reduceMessageState(events).status).toBe('delivered');
    expect(reduceMessageState(events.reverse()).status).toBe('delivered');
  });

  it('breaks a tie in time by delivery stage', () => {
    const state = reduceMessageState([
      { id: 'evt_z', status: 'sent', occurredAt: 1000 },
      { id: 'evt_a', status: 'delivered', occurredAt: 1000 },
    ]);
    expect(state.status).toBe('delivered');
  });

  it('lifts sent or delayed to delivered when the recipient opened the message', () => {
    expect(
      reduceMessageState([
        { id: 'evt_1', status: 'delayed', occurredAt: 1000 },
        { id: 'evt_2', status: 'opened', occurredAt: 900 },
      ]).status,
    ).toBe('delivered');
    expect(reduceMessageState([{ id: 'evt_1', status: 'clicked', occurredAt: 1000 }]).status).toBe('delivered');
  });

  it('does not lift a bounce, and a late bounce after delivery wins', () => {
    const state = reduceMessageState([
      { id: 'evt_1', status: 'delivered', occurredAt: 1000 },
      { id: 'evt_2', status: 'bounced', occurredAt: 5000, bounceType: 'hard', reason: '550 gone' },
      { id: 'evt_3', status: 'opened', occurredAt: 3000 },
    ]);
    expect(state.status).toBe('bounced');
    expect(state.outcome).toMatchObject({ bounceType: 'hard', reason: '550 gone' });
  });

  it('counts machine opens apart from human ones', () => {
    const state = reduceMessageState([
      { id: 'evt_1', status: 'opened', occurredAt: 1000, machine: true },
      { id: 'evt_2', status: 'opened', occurredAt: 2000 },
      { id: 'evt_3', status: 'clicked', occurredAt: 3000 },
    ]);
    expect(state).toMatchObject({ opens: 2, humanOpens: 1, clicks: 1, humanClicks: 1, firstOpenedAt: 1000, lastOpenedAt: 2000 });
  });

  it('counts an open the provider reports under two types once: the larger kind, never the sum', () => {
    const open = (id: string, occurredAt: number, echo: boolean, machine = false) => ({ id, status: 'opened' as const, occurredAt, echo, machine });
    // one view: a top-pixel echo and a bottom-pixel open (SparkPost), or a unique and an every-time open (Brevo)
    expect(reduceMessageState([open('a', 1000, true), open('b', 1001, false)])).toMatchObject({ opens: 1, humanOpens: 1, firstOpenedAt: 1000, lastOpenedAt: 1001 });
    // two views reported both ways, a third only as its echo (a clipped message loads the top pixel alone)
    const views = [open('a', 1, true), open('b', 2, false), open('c', 3, true), open('d', 4, false), open('e', 5, true)];
    expect(reduceMessageState(views)).toMatchObject({ opens: 3, mainOpens: 2, echoOpens: 3 });
    // an account that sends only one kind counts every open of it
    expect(reduceMessageState([open('a', 1, false), open('b', 2, false)])).toMatchObject({ opens: 2 });
    expect(reduceMessageState([open('a', 1, true), open('b', 2, true)])).toMatchObject({ opens: 2 });
    // human and machine opens each by their larger kind: a first human open sent only as its echo, beside two
    // privacy-proxy opens sent only as main events (a Brevo webhook subscribed to "First Opening" and "Proxy Open")
    expect(reduceMessageState([open('a', 1, true), open('b', 2, false, true), open('c', 3, false, true)])).toMatchObject({ opens: 3, humanOpens: 1 });
    expect(reduceMessageState([open('a', 1, true, true), open('b', 2, false, true)])).toMatchObject({ opens: 1, humanOpens: 0 });
  });

  it('keeps the first human open and click apart from machine ones, and counts first-party hits', () => {
    const state = reduceMessageState([
      { id: 'evt_1', status: 'opened', occurredAt: 1000, machine: true, firstParty: true },
      { id: 'evt_2', status: 'opened', occurredAt: 4000, firstParty: true },
      { id: 'evt_3', status: 'clicked', occurredAt: 2000, machine: true, firstParty: true },
      { id: 'evt_4', status: 'clicked', occurredAt: 5000 },
      { id: 'evt_5', status: 'unsubscribed', occurredAt: 6000, firstParty: true },
    ]);
    expect(state).toMatchObject({ firstOpenedAt: 1000, firstHumanOpenAt: 4000, firstClickedAt: 2000, firstHumanClickAt: 5000, firstPartyHits: 3 });
    expect(reduceMessageState([{ id: 'evt_1', status: 'opened', occurredAt: 1000, machine: true }])).toMatchObject({ firstHumanOpenAt: null, humanOpens: 0 });
  });

  it('ignores events with no mapped status', () => {
    expect(reduceMessageState([{ id: 'evt_1', status: null, occurredAt: 1 }])).toEqual(reduceMessageState([]));
  });
});
