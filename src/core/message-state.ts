import type { BounceType, DeliveryStatus, Status } from './vocabulary.js';
import { DELIVERY_PRECEDENCE, isDeliveryStatus } from './vocabulary.js';

/** The delivery event that decides a message's status. */
export interface Outcome {
  status: DeliveryStatus;
  occurredAt: number;
  eventId: string;
  bounceType: BounceType | null;
  reason: string | null;
}

/**
 * A message's state, derived from the set of its events only (DESIGN §4). Timestamps are epoch milliseconds.
 * Every field is a max, a min or a count over the events, so merging events in any order, in any grouping,
 * gives the same state: the property `message-state.test.ts` checks.
 */
export interface MessageState {
  /** The delivery outcome, lifted to `delivered` by any open or click when it is missing, `sent` or `delayed`. */
  status: DeliveryStatus | null;
  outcome: Outcome | null;
  /** Human opens (the larger kind) plus machine opens (the larger kind). */
  opens: number;
  clicks: number;
  /** The larger of `mainHumanOpens` and `echoHumanOpens`. */
  humanOpens: number;
  humanClicks: number;
  /** Opens by kind (see `ParsedEvent.echo`): counted apart so that `opens` stays a function of the event set. */
  mainOpens: number;
  echoOpens: number;
  mainHumanOpens: number;
  echoHumanOpens: number;
  firstOpenedAt: number | null;
  lastOpenedAt: number | null;
  firstClickedAt: number | null;
  lastClickedAt: number | null;
  /** The earliest open and click not made by a machine (privacy proxies, scanners, prefetches, bots). */
  firstHumanOpenAt: number | null;
  firstHumanClickAt: number | null;
  /**
   * Opens and clicks Mailtrail recorded itself (its pixel and tracked links). A message with any has its hits'
   * machine verdicts worked out again whenever a hit or a `sent`/`delivered` event joins it (store/hit-verdicts.ts).
   */
  firstPartyHits: number;
  /**
   * The earliest first-party hit, `delivered` and `sent` event: what a hit's machine verdict is measured from
   * (secondsAfterDelivery, secondsAfterSend). A change of any of them reclassifies every hit of the message.
   */
  firstHitAt: number | null;
  /**
   * The latest first-party open or click. Hits arrive in about the order they happen (their time is the server's), so
   * a new hit later than this by the burst window has no stored hit near it: the store counts its burst without a query.
   */
  lastHitAt: number | null;
  firstDeliveredAt: number | null;
  firstSentAt: number | null;
  complained: boolean;
  complainedAt: number | null;
  unsubscribed: boolean;
  unsubscribedAt: number | null;
  firstEventAt: number | null;
  lastEventAt: number | null;
  eventCount: number;
}

/** What the reducer needs to know about an event. */
export interface StateEvent {
  id: string;
  status: Status | null;
  occurredAt: number;
  machine?: boolean | undefined;
  echo?: boolean | undefined;
  /** Recorded by Mailtrail's own pixel, links or unsubscribe URL (origin `first-party`). */
  firstParty?: boolean | undefined;
  bounceType?: BounceType | null | undefined;
  reason?: string | null | undefined;
}

export const EMPTY_STATE: MessageState = Object.freeze({
  status: null,
  outcome: null,
  opens: 0,
  clicks: 0,
  humanOpens: 0,
  humanClicks: 0,
  mainOpens: 0,
  echoOpens: 0,
  mainHumanOpens: 0,
  echoHumanOpens: 0,
  firstOpenedAt: null,
  lastOpenedAt: null,
  firstClickedAt: null,
  lastClickedAt: null,
  firstHumanOpenAt: null,
  firstHumanClickAt: null,
  firstPartyHits: 0,
  firstHitAt: null,
  lastHitAt: null,
  firstDeliveredAt: null,
  firstSentAt: null,
  complained: false,
  complainedAt: null,
  unsubscribed: false,
  unsubscribedAt: null,
  firstEventAt: null,
  lastEventAt: null,
  eventCount: 0,
}) as MessageState;

/** The state of a message with exactly these events. */
export function reduceMessageState(events: Iterable<StateEvent>): MessageState {
  return mergeMessageState(EMPTY_STATE, events);
}

/**
 * Adds events the state has not seen yet. `mergeMessageState(reduce(a), b)` equals `reduce(a ∪ b)` for
 * disjoint `a` and `b`; callers must pass each event once (the store deduplicates before it merges).
 */
export function mergeMessageState(state: MessageState, events: Iterable<StateEvent>): MessageState {
  const next: MessageState = { ...state };
  for (const event of events) {
    if (event.status === null) continue;
    next.eventCount += 1;
    next.firstEventAt = min(next.firstEventAt, event.occurredAt);
    next.lastEventAt = max(next.lastEventAt, event.occurredAt);
    if (event.status === 'delivered') next.firstDeliveredAt = min(next.firstDeliveredAt, event.occurredAt);
    else if (event.status === 'sent') next.firstSentAt = min(next.firstSentAt, event.occurredAt);
    if (isDeliveryStatus(event.status)) {
      const candidate: Outcome = {
        status: event.status,
        occurredAt: event.occurredAt,
        eventId: event.id,
        bounceType: event.bounceType ?? null,
        reason: event.reason ?? null,
      };
      if (next.outcome === null || compareOutcomes(candidate, next.outcome) > 0) next.outcome = candidate;
      continue;
    }
    switch (event.status) {
      case 'opened':
        if (event.echo) {
          next.echoOpens += 1;
          if (!event.machine) next.echoHumanOpens += 1;
        } else {
          next.mainOpens += 1;
          if (!event.machine) next.mainHumanOpens += 1;
        }
        // each of human and machine opens by its larger kind: a webhook that sends one kind for people and the
        // other for privacy proxies still counts both
        next.humanOpens = Math.max(next.mainHumanOpens, next.echoHumanOpens);
        next.opens = next.humanOpens + Math.max(next.mainOpens - next.mainHumanOpens, next.echoOpens - next.echoHumanOpens);
        if (!event.machine) next.firstHumanOpenAt = min(next.firstHumanOpenAt, event.occurredAt);
        if (event.firstParty) countHit(next, event.occurredAt);
        next.firstOpenedAt = min(next.firstOpenedAt, event.occurredAt);
        next.lastOpenedAt = max(next.lastOpenedAt, event.occurredAt);
        break;
      case 'clicked':
        next.clicks += 1;
        if (!event.machine) {
          next.humanClicks += 1;
          next.firstHumanClickAt = min(next.firstHumanClickAt, event.occurredAt);
        }
        if (event.firstParty) countHit(next, event.occurredAt);
        next.firstClickedAt = min(next.firstClickedAt, event.occurredAt);
        next.lastClickedAt = max(next.lastClickedAt, event.occurredAt);
        break;
      case 'complaint':
        next.complained = true;
        next.complainedAt = min(next.complainedAt, event.occurredAt);
        break;
      case 'unsubscribed':
        next.unsubscribed = true;
        next.unsubscribedAt = min(next.unsubscribedAt, event.occurredAt);
        break;
    }
  }
  next.status = deriveStatus(next);
  return next;
}

function countHit(state: MessageState, at: number): void {
  state.firstPartyHits += 1;
  state.firstHitAt = min(state.firstHitAt, at);
  state.lastHitAt = max(state.lastHitAt, at);
}

/** An open or click whose machine verdict changed after it was merged (a hit reclassified in a new context). */
export interface VerdictChange {
  status: Status | null;
  occurredAt: number;
  echo?: boolean | undefined;
  /** The verdict the state counted it with, and the new one. */
  wasMachine: boolean;
  machine: boolean;
}

/**
 * The state with these events counted under their new verdicts: equal to reducing the events with the new verdicts.
 * A first human open or click that became a machine's cannot be replaced from the state alone: `stale` says which of
 * `firstHumanOpenAt` and `firstHumanClickAt` the caller must look up again among the events.
 */
export function applyVerdictChanges(state: MessageState, changes: Iterable<VerdictChange>): { state: MessageState; stale: { open: boolean; click: boolean } } {
  const next: MessageState = { ...state };
  const stale = { open: false, click: false };
  for (const change of changes) {
    if (change.wasMachine === change.machine || (change.status !== 'opened' && change.status !== 'clicked')) continue;
    const delta = change.machine ? -1 : 1;
    if (change.status === 'clicked') {
      next.humanClicks += delta;
      if (!change.machine) next.firstHumanClickAt = min(next.firstHumanClickAt, change.occurredAt);
      else if (next.firstHumanClickAt === change.occurredAt) stale.click = true;
      continue;
    }
    if (change.echo) next.echoHumanOpens += delta;
    else next.mainHumanOpens += delta;
    next.humanOpens = Math.max(next.mainHumanOpens, next.echoHumanOpens);
    next.opens = next.humanOpens + Math.max(next.mainOpens - next.mainHumanOpens, next.echoOpens - next.echoHumanOpens);
    if (!change.machine) next.firstHumanOpenAt = min(next.firstHumanOpenAt, change.occurredAt);
    else if (next.firstHumanOpenAt === change.occurredAt) stale.open = true;
  }
  next.status = deriveStatus(next);
  return { state: next, stale };
}

function deriveStatus(state: MessageState): DeliveryStatus | null {
  const outcome = state.outcome?.status ?? null;
  const engaged = state.opens + state.clicks > 0;
  // An open or a click proves the message reached a mailbox, whatever the provider has (not yet) told us.
  if (engaged && (outcome === null || outcome === 'sent' || outcome === 'delayed')) return 'delivered';
  return outcome;
}

/** Later `occurredAt` wins; on a tie the later delivery stage wins; then the greater event id. */
export function compareOutcomes(a: Outcome, b: Outcome): number {
  if (a.occurredAt !== b.occurredAt) return a.occurredAt < b.occurredAt ? -1 : 1;
  const byStage = DELIVERY_PRECEDENCE[a.status] - DELIVERY_PRECEDENCE[b.status];
  if (byStage !== 0) return byStage < 0 ? -1 : 1;
  if (a.eventId === b.eventId) return 0;
  return a.eventId < b.eventId ? -1 : 1;
}

function min(a: number | null, b: number): number {
  return a === null || b < a ? b : a;
}

function max(a: number | null, b: number): number {
  return a === null || b > a ? b : a;
}
