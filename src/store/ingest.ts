import type { ParsedEvent } from '../core/event.js';
import { newId } from '../core/ids.js';
import { storableText } from '../core/text.js';
import { applyVerdictChanges, mergeMessageState, reduceMessageState, type MessageState, type VerdictChange } from '../core/message-state.js';
import { anchorsOf, BURST_CAP, BURST_MS, classifyHitRow, isHit, reviseAllHits, sameAnchors, type Anchors } from './hit-verdicts.js';
import { correlate, RETRY_TRANSACTION } from './correlate.js';
import { eventFromRow, messageFromRow, stateEventFromRow, stateFromRow, stateToColumns } from './rows.js';
import { subscribesTo } from '../core/event-types.js';
import type { Status } from '../core/vocabulary.js';
import type { DeliveryRow, EventRow, MessageRow } from './schema.js';
import type { IngestBatch, IngestResult, Message } from './types.js';

/** A message looked up by the provider's id for one recipient ('' when the event names none). */
export interface ProviderKey {
  providerMessageId: string;
  recipient: string;
}

/** What correlation needs of a message; reading whole rows costs measurably more. */
export type MessageKey = Pick<MessageRow, 'id' | 'integration_id' | 'provider_message_id' | 'recipient' | 'created_at' | 'first_with_provider_id'>;

/**
 * The few bulk operations the ingest transaction needs. Each dialect implements them inside its own
 * transaction; the algorithm below is the same for both.
 */
export interface IngestOps {
  findEvents(integrationId: string, dedupeKeys: string[]): Promise<EventRow[]>;
  findMessagesById(environmentId: string, ids: string[]): Promise<MessageKey[]>;
  /**
   * For each key, the message with that provider id and recipient; when there is none, and always for a key with
   * no recipient (''), every message of the integration with that provider id (see correlate.ts). More may be
   * returned: one indexed lookup per provider id is what matters.
   */
  findMessagesByProviderKey(integrationId: string, keys: ProviderKey[]): Promise<MessageKey[]>;
  /**
   * Gives recipient-less messages the recipient an event names, each only while it still has none; returns the ids
   * changed (one missing means another transaction took or merged that message first).
   */
  giveRecipients(environmentId: string, messages: { id: string; recipient: string }[]): Promise<Set<string>>;
  /** Inserts messages, skipping any that already exist; returns the ids actually inserted. */
  insertMessages(rows: MessageRow[]): Promise<Set<string>>;
  /** Reads messages for update, locking them in id order where the dialect has row locks. */
  lockMessages(environmentId: string, ids: string[]): Promise<MessageRow[]>;
  /** Inserts events, skipping duplicates; returns the dedupe keys actually inserted. */
  insertEvents(rows: EventRow[]): Promise<Set<string>>;
  saveMessageStates(rows: MessageRow[]): Promise<void>;
  /** Every mapped event of these messages (for reclassifying their first-party hits). */
  findMessageEvents(environmentId: string, messageIds: string[]): Promise<EventRow[]>;
  /** For each new hit, how many other first-party hits of its message came less than BURST_MS from it, counted up to `cap`. */
  countNearbyHits(environmentId: string, hits: HitPoint[], cap: number): Promise<Map<string, number>>;
  /**
   * Adds to the burst of every hit below `cap` (so not the new ones) the new hits of its message less than BURST_MS
   * from it, up to `cap`; returns those hits as updated.
   */
  growNearbyBursts(environmentId: string, hits: HitPoint[], cap: number): Promise<EventRow[]>;
  /** Writes hits' bursts and machine verdicts. */
  updateHits(rows: Pick<EventRow, 'id' | 'burst' | 'machine' | 'machine_kind' | 'machine_reason'>[]): Promise<void>;
  /** The earliest open or click of the message not made by a machine. */
  firstHumanAt(environmentId: string, messageId: string, status: 'opened' | 'clicked'): Promise<number | null>;
  /** The environment's enabled outbound endpoints, with their subscribed event types. */
  findEndpoints(environmentId: string): Promise<SubscribedEndpoint[]>;
  /** Inserts outbox rows, skipping any that exist (one delivery per event and endpoint). */
  insertDeliveries(rows: DeliveryRow[]): Promise<void>;
}

/** A new first-party hit: its event id, its message, its time. */
export interface HitPoint {
  id: string;
  messageId: string;
  at: number;
}

export interface SubscribedEndpoint {
  id: string;
  eventTypes: string[];
}

/** One input event's outcome, still as rows: converting to API objects is left to whoever needs them. */
export interface IngestRecord {
  row: EventRow;
  duplicate: boolean;
  /** The message's row after this batch, for the first copy of a newly stored, mapped event. */
  message: MessageRow | null;
  /** Outbound deliveries queued for the event by this batch. */
  deliveries: number;
}

/**
 * Stores one batch: dedupe, correlate (creating messages we have not seen), insert the new events and fold
 * them into their messages' state. Runs inside the caller's transaction; safe against concurrent batches on
 * PostgreSQL because every write either skips on conflict and re-reads, or happens under a row lock.
 */
export async function runIngest(ops: IngestOps, input: IngestBatch): Promise<IngestRecord[]> {
  const batch = storableBatch(input);
  const { environmentId, integrationId, receivedAt } = batch;

  // 1. Events already stored are answered with their stored ids; a key repeated inside the batch counts once. A
  //    first-party hit's key is made once per hit (ingest/hits.ts), so it is only ever stored already when a retry
  //    follows a commit whose outcome was unclear: the insert below skips it and step 3 finds it, and the index is
  //    not probed for every hit beforehand.
  const known = new Map<string, EventRow>();
  const firstParty = batch.origin === 'first-party';
  if (!firstParty) {
    for (const row of await ops.findEvents(integrationId, unique(batch.events.map((event) => event.dedupeKey)))) {
      known.set(row.dedupe_key, row);
    }
  }
  const fresh: ParsedEvent[] = [];
  const seen = new Set<string>();
  for (const event of batch.events) {
    if (known.has(event.dedupeKey) || seen.has(event.dedupeKey)) continue;
    seen.add(event.dedupeKey);
    fresh.push(event);
  }

  // 2. Correlate: our id from the provider's metadata first, then the provider's message id and recipient.
  const { resolve, created, homes } = await correlate(ops, batch, fresh);

  // 3. Insert the new events; in a race on PostgreSQL another transaction may have stored some first. A first-party
  //    hit is stored under its message's integration, and is looked up there.
  const rows = fresh.map((event) => {
    const messageId = resolve(event);
    const row = newEventRow(batch, event, newId('evt', batch.receivedAt), messageId);
    if (firstParty && messageId !== null) row.integration_id = homes.get(messageId) ?? integrationId;
    return row;
  });
  const inserted = await ops.insertEvents(rows);
  const raced = new Map<string, string[]>();
  for (const row of rows) {
    if (inserted.has(row.dedupe_key)) continue;
    const keys = raced.get(row.integration_id);
    if (keys) keys.push(row.dedupe_key);
    else raced.set(row.integration_id, [row.dedupe_key]);
  }
  for (const [home, keys] of raced) for (const row of await ops.findEvents(home, keys)) known.set(row.dedupe_key, row);
  const insertedRows = rows.filter((row) => inserted.has(row.dedupe_key));
  for (const row of insertedRows) known.set(row.dedupe_key, row);

  // 4. Fold the new events into each affected message. Messages created by this transaction are already in
  //    hand (and locked by the insert); the others are read under a row lock.
  const byMessage = new Map<string, EventRow[]>();
  for (const row of insertedRows) {
    if (row.message_id === null || row.ignored) continue;
    const list = byMessage.get(row.message_id);
    if (list) list.push(row);
    else byMessage.set(row.message_id, [row]);
  }
  const affected = [...byMessage.keys()].sort();
  const current = affected.filter((id) => created.has(id)).map((id) => created.get(id)!);
  const existing = affected.filter((id) => !created.has(id));
  const locked = await ops.lockMessages(environmentId, existing);
  if (locked.length < existing.length) {
    // A registration merged one of these messages into another while this batch waited for its lock (only on
    // PostgreSQL): run the whole batch again, so its events go to the message that remains.
    throw Object.assign(new Error('a message was merged during ingest'), { code: RETRY_TRANSACTION });
  }
  if (firstParty && locked.some((row) => (row.integration_id ?? integrationId) !== homes.get(row.id))) {
    // A registration moved a message to its own integration while this batch waited (PostgreSQL): run it again.
    throw Object.assign(new Error('a message changed integration during ingest'), { code: RETRY_TRANSACTION });
  }
  current.push(...locked);
  const states = await foldIntoMessages(ops, environmentId, current, byMessage);
  const messages = new Map<string, MessageRow>();
  for (const row of current) {
    const state = states.get(row.id)!;
    // The row is ours (just read, or created by this batch): update it in place rather than copy 35 columns.
    Object.assign(row, stateToColumns(state));
    row.updated_at = Math.max(receivedAt, Number(row.updated_at));
    messages.set(row.id, row);
  }
  await ops.saveMessageStates([...messages.values()]);

  // 5. The outbox: a delivery per new event and subscribed endpoint, in this transaction, so no acknowledged
  //    event can miss an endpoint that was subscribed when it was stored.
  const deliverable = insertedRows.filter((row) => row.status !== null && !row.ignored);
  const endpoints = deliverable.length > 0 ? await ops.findEndpoints(environmentId) : [];
  const queued = new Map<string, number>();
  if (endpoints.length > 0) {
    const deliveries: DeliveryRow[] = [];
    for (const row of deliverable) {
      for (const endpoint of endpoints) {
        if (!subscribesTo(endpoint.eventTypes, row.status as Status)) continue;
        deliveries.push(newDeliveryRow(row, endpoint.id, receivedAt));
        queued.set(row.id, (queued.get(row.id) ?? 0) + 1);
      }
    }
    if (deliveries.length > 0) await ops.insertDeliveries(deliveries);
  }

  const insertedKeys = new Set(insertedRows.map((row) => row.dedupe_key));
  const reported = new Set<string>();
  return batch.events.map((event) => {
    const row = known.get(event.dedupeKey)!;
    const first = insertedKeys.has(event.dedupeKey) && !reported.has(event.dedupeKey);
    reported.add(event.dedupeKey);
    const message = first && batch.withMessages !== false && row.message_id ? (messages.get(row.message_id) ?? null) : null;
    return { row, duplicate: !first, message, deliveries: first ? (queued.get(row.id) ?? 0) : 0 };
  });
}

/**
 * Folds the new events into their messages, keeping first-party hits' verdicts exact (see hit-verdicts.ts). Runs
 * under the messages' locks, after this batch's events are inserted, so a concurrent batch that adds to the same
 * message sees this one's events once it gets the lock. New hits were inserted with a full burst, which keeps them
 * out of their neighbours' counting; their own burst is counted here, for the whole batch at once.
 */
async function foldIntoMessages(ops: IngestOps, environmentId: string, messages: MessageRow[], added: Map<string, EventRow[]>): Promise<Map<string, MessageState>> {
  const states = new Map<string, MessageState>();
  const growing: { message: MessageRow; before: MessageState; anchors: Anchors; hits: EventRow[] }[] = [];
  for (const message of messages) {
    const events = added.get(message.id)!;
    const before = stateFromRow(message);
    const merged = mergeMessageState(before, events.map(stateEventFromRow));
    if (merged.firstHitAt === null) {
      states.set(message.id, merged);
      continue;
    }
    const anchors = anchorsOf(merged, message);
    const hits = events.filter(isHit);
    if (before.firstHitAt !== null && !sameAnchors(anchorsOf(before, message), anchors)) states.set(message.id, await reviseMessage(ops, environmentId, message, anchors));
    else if (hits.length > 0) growing.push({ message, before, anchors, hits });
    else states.set(message.id, merged);
  }
  if (growing.length === 0) return states;

  // New hits: count their bursts, add them to their neighbours', and classify the hits whose burst changed. A hit
  // later than every stored hit of its message by the burst window, with no other new hit of it that near, has no
  // neighbour (most hits): it is not looked for.
  const newHits = growing.flatMap(({ hits }) => hits);
  const points: HitPoint[] = [];
  for (const { before, hits } of growing) {
    const times = hits.map((row) => Number(row.occurred_at));
    hits.forEach((row, index) => {
      const at = times[index]!;
      const near = (before.lastHitAt !== null && before.lastHitAt > at - BURST_MS) || times.some((other, j) => j !== index && Math.abs(other - at) < BURST_MS);
      if (near) points.push({ id: row.id, messageId: row.message_id!, at });
    });
  }
  const counts = points.length === 0 ? new Map<string, number>() : await ops.countNearbyHits(environmentId, points, BURST_CAP);
  for (const row of newHits) row.burst = counts.get(row.id) ?? 0;
  // Being near is mutual: a hit with no other hit near it has no neighbour whose burst grows (most hits, measured
  // in bench/engagement), and the partial index is not searched for it.
  const crowded = points.filter((point) => (counts.get(point.id) ?? 0) > 0);
  const neighbours = new Map<string, EventRow[]>();
  for (const row of crowded.length === 0 ? [] : await ops.growNearbyBursts(environmentId, crowded, BURST_CAP)) {
    const list = neighbours.get(row.message_id!);
    if (list) list.push(row);
    else neighbours.set(row.message_id!, [row]);
  }
  const written: EventRow[] = [...newHits];
  const pending: { id: string; status: 'opened' | 'clicked'; state: MessageState }[] = [];
  for (const { message, before, anchors, hits } of growing) {
    for (const hit of hits) classifyHitRow(hit, anchors);
    const flips: VerdictChange[] = [];
    for (const row of neighbours.get(message.id) ?? []) {
      const wasMachine = Boolean(Number(row.machine));
      if (!classifyHitRow(row, anchors)) continue;
      written.push(row);
      flips.push({ status: row.status as Status, occurredAt: Number(row.occurred_at), echo: Boolean(row.echo), wasMachine, machine: Boolean(Number(row.machine)) });
    }
    const { state, stale } = applyVerdictChanges(mergeMessageState(before, added.get(message.id)!.map(stateEventFromRow)), flips);
    states.set(message.id, state);
    if (stale.open) pending.push({ id: message.id, status: 'opened', state });
    if (stale.click) pending.push({ id: message.id, status: 'clicked', state });
  }
  await ops.updateHits(written);
  // A first human open or click that turned out to be a machine's: the next one is looked up once the verdicts are written.
  for (const { id, status, state } of pending) {
    const at = await ops.firstHumanAt(environmentId, id, status);
    if (status === 'opened') state.firstHumanOpenAt = at;
    else state.firstHumanClickAt = at;
  }
  return states;
}

/** The delivered or send time moved: every hit of the message is classified again, and its state reduced anew. */
async function reviseMessage(ops: IngestOps, environmentId: string, message: MessageRow, anchors: Anchors): Promise<MessageState> {
  const events = await ops.findMessageEvents(environmentId, [message.id]);
  const changed = reviseAllHits(events, anchors);
  if (changed.length > 0) await ops.updateHits(changed.map(({ row }) => row));
  return reduceMessageState(events.map(stateEventFromRow));
}

/** The API objects of ingest records. Messages are converted once each, however many events they got. */
export function toIngestResults(records: IngestRecord[]): IngestResult[] {
  const messages = new Map<MessageRow, Message>();
  return records.map(({ row, duplicate, message, deliveries }) => {
    let converted: Message | null = null;
    if (message) {
      converted = messages.get(message) ?? messageFromRow(message);
      messages.set(message, converted);
    }
    return { event: eventFromRow(row), duplicate, message: converted, deliveries };
  });
}

const OPTIONAL_TEXT_FIELDS = new Set<string>(['providerMessageId', 'mailtrailId', 'recipient', 'reason', 'url', 'userAgent', 'ip', 'machineReason']);

/** Every text field of an event, which the store makes storable once, for every provider. */
const TEXT_FIELDS = ['nativeType', 'dedupeKey', 'providerMessageId', 'mailtrailId', 'recipient', 'reason', 'url', 'userAgent', 'ip', 'machineReason', 'raw'] as const;

/**
 * The batch with its text as the database will store it (see storableText): a key read back must equal the key
 * written, and PostgreSQL refuses NUL. Events that need no change are passed on as they are.
 */
function storableBatch(batch: IngestBatch): IngestBatch {
  let changed = false;
  const events = batch.events.map((event) => {
    let copy: ParsedEvent | undefined;
    for (const field of TEXT_FIELDS) {
      const value = event[field];
      if (value === undefined) continue;
      const clean = storableText(value);
      if (clean === value) continue;
      copy ??= { ...event };
      // An optional field that was nothing but NUL is absent, as an empty one is: '' is no id to correlate on.
      (copy as unknown as Record<string, string | undefined>)[field] = clean === '' && OPTIONAL_TEXT_FIELDS.has(field) ? undefined : clean;
    }
    if (!copy) return event;
    changed = true;
    return copy;
  });
  return changed ? { ...batch, events } : batch;
}

/** A delivery due now: the worker sends it as soon as it is committed. */
function newDeliveryRow(event: EventRow, endpointId: string, now: number): DeliveryRow {
  return {
    id: newId('dlv', now),
    environment_id: event.environment_id,
    endpoint_id: endpointId,
    event_id: event.id,
    message_id: event.message_id,
    event_type: `email.${event.status}`,
    status: 'pending',
    attempts: 0,
    next_attempt_at: now,
    lease_until: null,
    last_status_code: null,
    last_error: null,
    created_at: now,
    updated_at: now,
  };
}

/** The stored row of a new event, built directly: this runs once per event on the hot path. */
export function newEventRow(batch: IngestBatch, event: ParsedEvent, id: string, messageId: string | null): EventRow {
  return {
    id,
    environment_id: batch.environmentId,
    integration_id: batch.integrationId,
    message_id: messageId,
    provider: batch.provider,
    status: event.status,
    native_type: event.nativeType,
    ignored: event.status === null ? 1 : 0,
    occurred_at: event.occurredAt,
    received_at: batch.receivedAt,
    provider_message_id: event.providerMessageId ?? null,
    recipient: event.recipient ?? null,
    dedupe_key: event.dedupeKey,
    bounce_type: event.bounceType ?? null,
    reason: event.reason ?? null,
    attempts: event.attempts ?? null,
    url: event.url ?? null,
    user_agent: event.userAgent ?? null,
    ip: event.ip ?? null,
    machine: event.machine ? 1 : 0,
    machine_kind: event.machineKind ?? null,
    machine_reason: event.machineReason ?? null,
    origin: batch.origin ?? 'provider',
    // a new hit is counted by foldIntoMessages; until then it is out of its neighbours' counting
    burst: batch.origin === 'first-party' && (event.status === 'opened' || event.status === 'clicked') ? BURST_CAP : null,
    echo: event.echo ? 1 : 0,
    raw: event.raw,
  };
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
