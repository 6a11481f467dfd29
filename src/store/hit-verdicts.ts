import type { MachineKind } from '../core/event.js';
import { createClassifier, type EngagementClassifier, type EngagementHit } from '../engagement/classify.js';
import { RANGE_ROLES, type RangeRole } from '../engagement/machine-ranges.js';
import type { EventRow, MessageRow } from './schema.js';

/*
 * Machine verdicts of first-party hits as part of a message's order-independent state (issue 10). A verdict depends
 * on the hit and on its context: how long after the provider's `delivered` (or the send) it came, and how many other
 * hits of the message came within 2 s of it, either side. Both change as events arrive in any order, so whenever a
 * hit or a `sent`/`delivered` event joins a message that has hits, every hit of the message is classified again from
 * what is stored, inside the ingest transaction and under the message's lock: the verdicts, and the human counts
 * derived from them, are a function of the set of events, whatever their order.
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

/** Hits within this of one another count as one burst (EngagementContext.sameMessageHitsWithin2s). */
const BURST_MS = 2000;
const STAND_IN_RANGE = '192.0.2.0/24';
const STAND_IN_ADDRESS = '192.0.2.1';
const MAX_CLASSIFIERS = 256;

type Verdict = Pick<EventRow, 'machine' | 'machine_kind' | 'machine_reason'>;
/** The event columns a reclassification reads. */
export type VerdictRow = Pick<EventRow, 'id' | 'status' | 'occurred_at' | 'origin' | 'raw' | 'user_agent'> & Verdict;

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

/** The verdict of one hit in its context, as stored columns. */
export function classifyStoredHit(
  kind: 'open' | 'click',
  hit: StoredHit,
  context: { secondsAfterDelivery: number | null; secondsAfterSend: number | null; sameMessageHitsWithin2s: number },
): Verdict {
  const request: EngagementHit = {
    kind,
    method: hit.method === 'HEAD' ? 'HEAD' : 'GET',
    userAgent: hit.userAgent,
    ip: hit.network === null ? '' : STAND_IN_ADDRESS,
    headers: { accept: hit.accept, 'accept-language': hit.acceptLanguage },
  };
  const verdict = classifierFor(hit.network)(request, { ...context, linkIndex: hit.linkIndex });
  return { machine: verdict.machine ? 1 : 0, machine_kind: verdict.kind as MachineKind | null, machine_reason: verdict.reason };
}

function isHit(row: VerdictRow): boolean {
  return row.origin === 'first-party' && (row.status === 'opened' || row.status === 'clicked');
}

/** True when these new events of a message can change its hits' verdicts. */
export function changesVerdicts(message: Pick<MessageRow, 'first_party_hits'>, added: Pick<EventRow, 'status' | 'origin'>[]): boolean {
  const hasHits = Number(message.first_party_hits) > 0;
  return added.some((row) => (row.origin === 'first-party' ? row.status === 'opened' || row.status === 'clicked' : hasHits && (row.status === 'delivered' || row.status === 'sent')));
}

/**
 * Classifies every first-party hit among a message's events again, in their context; updates the rows whose verdict
 * changed in place and returns them. `secondsAfterDelivery` counts from the earliest provider `delivered`;
 * `secondsAfterSend` from the earliest `sent`, else from the message's registration when it was registered before
 * its first hit (a message created by a hit, or registered after hits, has no known send time).
 */
export function reviseHitVerdicts(events: VerdictRow[], message: Pick<MessageRow, 'origin' | 'created_at'>): VerdictRow[] {
  const hits = events.filter(isHit).sort((a, b) => Number(a.occurred_at) - Number(b.occurred_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (hits.length === 0) return [];
  let deliveredAt: number | null = null;
  let sentAt: number | null = null;
  for (const row of events) {
    if (row.origin === 'first-party') continue;
    const at = Number(row.occurred_at);
    if (row.status === 'delivered' && (deliveredAt === null || at < deliveredAt)) deliveredAt = at;
    if (row.status === 'sent' && (sentAt === null || at < sentAt)) sentAt = at;
  }
  const createdAt = Number(message.created_at);
  if (sentAt === null && message.origin === 'api' && createdAt < Number(hits[0]!.occurred_at)) sentAt = createdAt;

  const times = hits.map((row) => Number(row.occurred_at));
  const changed: VerdictRow[] = [];
  let low = 0;
  let high = 0;
  for (let index = 0; index < hits.length; index++) {
    const at = times[index]!;
    while (times[low]! <= at - BURST_MS) low++;
    while (high < times.length && times[high]! < at + BURST_MS) high++;
    const row = hits[index]!;
    const verdict = classifyStoredHit(row.status === 'clicked' ? 'click' : 'open', readStoredHit(row), {
      secondsAfterDelivery: deliveredAt === null ? null : (at - deliveredAt) / 1000,
      secondsAfterSend: sentAt === null ? null : (at - sentAt) / 1000,
      sameMessageHitsWithin2s: high - low - 1,
    });
    if (Number(row.machine) !== verdict.machine || row.machine_kind !== verdict.machine_kind || row.machine_reason !== verdict.machine_reason) {
      Object.assign(row, verdict);
      changed.push(row);
    }
  }
  return changed;
}
