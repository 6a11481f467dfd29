import type { MachineKind } from '../core/event.js';
import { createClassifier, type EngagementClassifier, type EngagementHit } from '../engagement/classify.js';
import { RANGE_ROLES, type RangeRole } from '../engagement/machine-ranges.js';
import type { MessageState } from '../core/message-state.js';
import type { EventRow, MessageRow } from './schema.js';

/*
 * Machine verdicts of first-party hits as part of a message's order-independent state (issue 10). A verdict depends
 * on the hit and on its context: how long after the provider's `delivered` (or the send) it came, and how many other
 * hits of the message came within 2 s of it, either side. Both change as events arrive in any order, so they are
 * kept exact inside the ingest transaction, under the message's lock:
 *
 * - each hit stores its burst: the other hits within 2 s, counted up to BURST_CAP. A new hit counts its neighbours
 *   (at most BURST_CAP rows read) and adds itself to the neighbours still below the cap (a partial index holds only
 *   those), and only the hits whose count changed are classified again: a message fetched thousands of times costs
 *   each new hit a bounded amount of work;
 * - when the earliest delivered or sent event moves (or the registration time stops preceding the first hit), every
 *   hit of the message is classified again, and its state reduced from all its events.
 *
 * The verdicts, the bursts and the human counts derived from them are a function of the set of events, whatever
 * their order and batching. The classifier distinguishes 0, 1 and 2 or more other hits; the cap only bounds the
 * number its reason quotes.
 *
 * The classifier sees the client's address only through the range it falls in (machine-ranges.ts). The address
 * itself may not be stored (MAILTRAIL_IP_STORAGE), so the recorder keeps the range (`network`: its role and owner,
 * which name a company's network, never a person) and the reclassification shows the classifier a stand-in address
 * in a table holding that one range: the classifier answers exactly as it did for the real address. A stored hit
 * keeps the range it was seen from when the operator later replaces the ranges file.
 */

/** The provider id of first-party events and of each environment's built-in first-party integration. */
export const FIRST_PARTY_PROVIDER = 'mailtrail';

/** What the raw payload of a first-party hit holds: the request as stored, and what reclassifying it needs. */
export interface StoredHit {
  method: 'GET' | 'HEAD' | 'POST';
  userAgent: string;
  /** "" when the request did not carry the header. */
  accept: string;
  acceptLanguage: string;
  /** What MAILTRAIL_IP_STORAGE keeps of the address: all of it, its network, or null. */
  ip: string | null;
  linkIndex: number | null;
  url: string | null;
  /** The machine range the full address fell in when the hit arrived, or null. */
  network: { role: RangeRole; owner: string } | null;
}

/** Hits less than this apart count as one burst (EngagementContext.sameMessageHitsWithin2s). */
export const BURST_MS = 2000;
/** Bursts are counted up to this (the partial index `events_growing_bursts` of migration 0008 is built on it). */
export const BURST_CAP = 10;
const STAND_IN_RANGE = '192.0.2.0/24';
const STAND_IN_ADDRESS = '192.0.2.1';
const MAX_CLASSIFIERS = 256;

type Verdict = Pick<EventRow, 'machine' | 'machine_kind' | 'machine_reason'>;
/** The event columns a reclassification reads and writes. */
export type HitRow = Pick<EventRow, 'id' | 'status' | 'occurred_at' | 'origin' | 'raw' | 'user_agent' | 'burst' | 'echo'> & Verdict;

/** What hits are measured from: the message's earliest delivered event, and its send time when known. */
export interface Anchors {
  deliveredAt: number | null;
  sentAt: number | null;
}

const classifiers = new Map<string, EngagementClassifier>();

/** A classifier whose one range, at the stand-in address, is the hit's network (or no range at all). */
function classifierFor(network: StoredHit['network']): EngagementClassifier {
  const key = network === null ? '' : `${network.role}\u0000${network.owner}`;
  let classifier = classifiers.get(key);
  if (!classifier) {
    const ranges = network === null ? [] : [{ cidr: STAND_IN_RANGE, role: network.role, owner: network.owner, what: 'stand-in', source: 'stand-in' }];
    classifier = createClassifier({ ranges: { updatedAt: '2026-01-01', ranges } });
    if (classifiers.size >= MAX_CLASSIFIERS) classifiers.clear();
    classifiers.set(key, classifier);
  }
  return classifier;
}

/** A hit's stored request, read back defensively: a payload that does not parse is classified on its User-Agent alone. */
export function readStoredHit(row: Pick<EventRow, 'raw' | 'user_agent'>): StoredHit {
  let value: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(row.raw);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) value = parsed as Record<string, unknown>;
  } catch {
    // stays empty
  }
  const text = (field: unknown) => (typeof field === 'string' ? field : '');
  const network = value.network as { role?: unknown; owner?: unknown } | null | undefined;
  const usableNetwork =
    network && typeof network === 'object' && RANGE_ROLES.includes(network.role as RangeRole) && typeof network.owner === 'string' && network.owner.trim() !== ''
      ? { role: network.role as RangeRole, owner: network.owner }
      : null;
  return {
    method: value.method === 'HEAD' ? 'HEAD' : value.method === 'POST' ? 'POST' : 'GET',
    userAgent: typeof value.userAgent === 'string' ? value.userAgent : (row.user_agent ?? ''),
    accept: text(value.accept),
    acceptLanguage: text(value.acceptLanguage),
    ip: typeof value.ip === 'string' ? value.ip : null,
    linkIndex: typeof value.linkIndex === 'number' ? value.linkIndex : null,
    url: typeof value.url === 'string' ? value.url : null,
    network: usableNetwork,
  };
}

/** True for a first-party open or click: the events that have a burst and a context-dependent verdict. */
export function isHit(row: Pick<EventRow, 'origin' | 'status'>): boolean {
  return row.origin === 'first-party' && (row.status === 'opened' || row.status === 'clicked');
}

/**
 * The anchors of a message's hits. `secondsAfterSend` counts from the earliest `sent`, else from the registration
 * when the message was registered before its first hit (a message created by a hit, or registered after hits, has
 * no known send time).
 */
export function anchorsOf(state: Pick<MessageState, 'firstDeliveredAt' | 'firstSentAt' | 'firstHitAt'>, message: Pick<MessageRow, 'origin' | 'created_at'>): Anchors {
  const createdAt = Number(message.created_at);
  const registeredFirst = message.origin === 'api' && state.firstHitAt !== null && createdAt < state.firstHitAt;
  return { deliveredAt: state.firstDeliveredAt, sentAt: state.firstSentAt ?? (registeredFirst ? createdAt : null) };
}

/** Classifies a hit in its context (its stored burst and the anchors); updates the row and says whether the verdict changed. */
export function classifyHitRow(row: HitRow, anchors: Anchors): boolean {
  const at = Number(row.occurred_at);
  const hit = readStoredHit(row);
  const request: EngagementHit = {
    kind: row.status === 'clicked' ? 'click' : 'open',
    method: hit.method === 'HEAD' ? 'HEAD' : 'GET',
    userAgent: hit.userAgent,
    ip: hit.network === null ? '' : STAND_IN_ADDRESS,
    headers: { accept: hit.accept, 'accept-language': hit.acceptLanguage },
  };
  const verdict = classifierFor(hit.network)(request, {
    secondsAfterDelivery: anchors.deliveredAt === null ? null : (at - anchors.deliveredAt) / 1000,
    secondsAfterSend: anchors.sentAt === null ? null : (at - anchors.sentAt) / 1000,
    linkIndex: hit.linkIndex,
    sameMessageHitsWithin2s: Number(row.burst ?? 0),
  });
  const next: Verdict = { machine: verdict.machine ? 1 : 0, machine_kind: verdict.kind as MachineKind | null, machine_reason: verdict.reason };
  if (Number(row.machine) === next.machine && row.machine_kind === next.machine_kind && row.machine_reason === next.machine_reason) return false;
  Object.assign(row, next);
  return true;
}

/** Sets every hit's burst from the others (sorted by time, in memory): for a full reclassification. */
export function countBursts(hits: HitRow[]): HitRow[] {
  const sorted = [...hits].sort((a, b) => Number(a.occurred_at) - Number(b.occurred_at));
  const times = sorted.map((row) => Number(row.occurred_at));
  const changed: HitRow[] = [];
  let low = 0;
  let high = 0;
  for (let index = 0; index < sorted.length; index++) {
    const at = times[index]!;
    while (times[low]! <= at - BURST_MS) low++;
    while (high < times.length && times[high]! < at + BURST_MS) high++;
    const burst = Math.min(BURST_CAP, high - low - 1);
    const row = sorted[index]!;
    if (row.burst === null || Number(row.burst) !== burst) {
      row.burst = burst;
      changed.push(row);
    }
  }
  return changed;
}

/**
 * Classifies every hit among a message's events again (bursts recounted); returns the rows whose burst or verdict
 * changed, updated in place, with the verdicts they had before.
 */
export function reviseAllHits(events: HitRow[], anchors: Anchors): { row: HitRow; wasMachine: boolean }[] {
  const hits = events.filter(isHit);
  const before = new Map(hits.map((row) => [row.id, Boolean(Number(row.machine))]));
  const changed = new Set<HitRow>(countBursts(hits));
  for (const row of hits) if (classifyHitRow(row, anchors)) changed.add(row);
  return [...changed].map((row) => ({ row, wasMachine: before.get(row.id)! }));
}

/** True when these anchors differ: every hit must be classified again. */
export function sameAnchors(a: Anchors, b: Anchors): boolean {
  return a.deliveredAt === b.deliveredAt && a.sentAt === b.sentAt;
}
