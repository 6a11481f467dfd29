import type { NormalizedEvent, ParsedEvent } from '../core/event.js';
import { newId } from '../core/ids.js';
import { EMPTY_STATE, mergeMessageState } from '../core/message-state.js';
import { eventFromRow, eventToRow, messageFromRow, stateEventFromRow, stateFromRow, stateToColumns } from './rows.js';
import type { EventRow, MessageRow } from './schema.js';
import type { IngestBatch, IngestResult, Message } from './types.js';

/** A message looked up by the provider's id for one recipient ('' when the event names none). */
export interface ProviderKey {
  providerMessageId: string;
  recipient: string;
}

/**
 * The few bulk operations the ingest transaction needs. Each dialect implements them inside its own
 * transaction; the algorithm below is the same for both.
 */
export interface IngestOps {
  findEvents(integrationId: string, dedupeKeys: string[]): Promise<EventRow[]>;
  findMessagesById(environmentId: string, ids: string[]): Promise<MessageRow[]>;
  findMessagesByProviderKey(integrationId: string, keys: ProviderKey[]): Promise<MessageRow[]>;
  /** Inserts messages, skipping any that already exist (another transaction may have just created one). */
  insertMessages(rows: MessageRow[]): Promise<void>;
  /** Reads messages for update, locking them in id order where the dialect has row locks. */
  lockMessages(environmentId: string, ids: string[]): Promise<MessageRow[]>;
  /** Inserts events, skipping duplicates; returns the dedupe keys actually inserted. */
  insertEvents(rows: EventRow[]): Promise<Set<string>>;
  saveMessageStates(rows: MessageRow[]): Promise<void>;
  completeIdempotencyKey(environmentId: string, integrationId: string, key: string, response: string): Promise<void>;
}

const MAX_ID_LENGTH = 255;

export async function runIngest(ops: IngestOps, batch: IngestBatch): Promise<IngestResult[]> {
  const { environmentId, integrationId, receivedAt } = batch;

  // 1. Events already stored are answered with their stored ids; a key repeated inside the batch counts once.
  const known = new Map<string, EventRow>();
  for (const row of await ops.findEvents(integrationId, unique(batch.events.map((event) => event.dedupeKey)))) {
    known.set(row.dedupe_key, row);
  }
  const fresh: ParsedEvent[] = [];
  const seen = new Set<string>();
  for (const event of batch.events) {
    if (known.has(event.dedupeKey) || seen.has(event.dedupeKey)) continue;
    seen.add(event.dedupeKey);
    fresh.push(event);
  }

  // 2. Correlate: our id from the provider's metadata first, then the provider's message id and recipient.
  const resolve = await correlate(ops, batch, fresh);

  // 3. Insert the new events; in a race on PostgreSQL another transaction may have stored some first.
  const rows = fresh.map((event) => eventToRow(normalize(batch, event, resolve(event))));
  const inserted = await ops.insertEvents(rows);
  const raced = rows.filter((row) => !inserted.has(row.dedupe_key)).map((row) => row.dedupe_key);
  if (raced.length > 0) for (const row of await ops.findEvents(integrationId, raced)) known.set(row.dedupe_key, row);
  const insertedRows = rows.filter((row) => inserted.has(row.dedupe_key));
  for (const row of insertedRows) known.set(row.dedupe_key, row);

  // 4. Fold the new events into each affected message, under a row lock.
  const byMessage = new Map<string, EventRow[]>();
  for (const row of insertedRows) {
    if (row.message_id === null || row.ignored) continue;
    const list = byMessage.get(row.message_id) ?? [];
    list.push(row);
    byMessage.set(row.message_id, list);
  }
  const messages = new Map<string, Message>();
  const locked = await ops.lockMessages(environmentId, [...byMessage.keys()].sort());
  const updates: MessageRow[] = [];
  for (const row of locked) {
    const state = mergeMessageState(stateFromRow(row), byMessage.get(row.id)!.map(stateEventFromRow));
    const updated = { ...row, ...stateToColumns(state), updated_at: Math.max(receivedAt, Number(row.updated_at)) };
    updates.push(updated);
    messages.set(row.id, messageFromRow(updated));
  }
  await ops.saveMessageStates(updates);

  const insertedKeys = new Set(insertedRows.map((row) => row.dedupe_key));
  const reported = new Set<string>();
  const results = batch.events.map((event) => {
    const row = known.get(event.dedupeKey)!;
    const first = insertedKeys.has(event.dedupeKey) && !reported.has(event.dedupeKey);
    reported.add(event.dedupeKey);
    return {
      event: eventFromRow(row),
      duplicate: !first,
      message: first && row.message_id ? (messages.get(row.message_id) ?? null) : null,
    };
  });
  if (batch.idempotency) {
    await ops.completeIdempotencyKey(environmentId, integrationId, batch.idempotency.key, batch.idempotency.render(results));
  }
  return results;
}

async function correlate(ops: IngestOps, batch: IngestBatch, events: ParsedEvent[]): Promise<(event: ParsedEvent) => string | null> {
  const { environmentId, integrationId } = batch;
  const ourIds = unique(events.map((event) => usableId(event.mailtrailId)).filter((id): id is string => id !== null));
  const byId = new Map<string, MessageRow>();
  for (const row of await ops.findMessagesById(environmentId, ourIds)) byId.set(row.id, row);

  const providerKeys = new Map<string, ProviderKey>();
  for (const event of events) {
    const id = usableId(event.mailtrailId);
    if ((id && byId.has(id)) || !event.providerMessageId) continue;
    const key = providerKeyOf(event);
    providerKeys.set(providerKeyString(key), key);
  }
  const byProviderKey = new Map<string, MessageRow>();
  const loadProviderKeys = async (keys: ProviderKey[]) => {
    for (const row of await ops.findMessagesByProviderKey(integrationId, keys)) {
      byProviderKey.set(providerKeyString({ providerMessageId: row.provider_message_id!, recipient: row.recipient ?? '' }), row);
    }
  };
  await loadProviderKeys([...providerKeys.values()]);

  // Events for messages we have never seen create them (origin `provider`); ignored events never do.
  const created = new Map<string, MessageRow>();
  const standalone = new Map<ParsedEvent, string>();
  for (const event of events) {
    if (event.status === null) continue;
    const id = usableId(event.mailtrailId);
    if (id && byId.has(id)) continue;
    if (event.providerMessageId) {
      const keyString = providerKeyString(providerKeyOf(event));
      if (byProviderKey.has(keyString) || created.has(keyString)) continue;
      created.set(keyString, newMessageRow(batch, event, id ?? newId('msg', batch.receivedAt)));
    } else if (id) {
      if (!created.has(`id:${id}`)) created.set(`id:${id}`, newMessageRow(batch, event, id));
    } else {
      const row = newMessageRow(batch, event, newId('msg', batch.receivedAt));
      created.set(`id:${row.id}`, row);
      standalone.set(event, row.id);
    }
  }
  if (created.size > 0) {
    const rows = [...created.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
    await ops.insertMessages(rows);
    // Re-read: on PostgreSQL a concurrent batch may have created the same message with another id.
    const createdIds = rows.filter((row) => row.provider_message_id === null).map((row) => row.id);
    for (const row of await ops.findMessagesById(environmentId, createdIds)) byId.set(row.id, row);
    await loadProviderKeys(rows.filter((row) => row.provider_message_id !== null).map((row) => ({ providerMessageId: row.provider_message_id!, recipient: row.recipient ?? '' })));
  }

  return (event) => {
    const id = usableId(event.mailtrailId);
    if (id && byId.has(id)) return id;
    if (event.providerMessageId) return byProviderKey.get(providerKeyString(providerKeyOf(event)))?.id ?? null;
    return standalone.get(event) ?? null;
  };
}

function newMessageRow(batch: IngestBatch, event: ParsedEvent, id: string): MessageRow {
  return {
    environment_id: batch.environmentId,
    id,
    integration_id: batch.integrationId,
    provider: batch.provider,
    provider_message_id: event.providerMessageId ?? null,
    recipient: event.recipient ?? '',
    from_address: null,
    subject: null,
    tags: '[]',
    metadata: '{}',
    workflow_run_id: null,
    step_run_id: null,
    origin: 'provider',
    created_at: batch.receivedAt,
    updated_at: batch.receivedAt,
    ...stateToColumns(EMPTY_STATE),
  };
}

function normalize(batch: IngestBatch, event: ParsedEvent, messageId: string | null): NormalizedEvent {
  return {
    ...event,
    id: newId('evt', batch.receivedAt),
    environmentId: batch.environmentId,
    integrationId: batch.integrationId,
    provider: batch.provider,
    messageId,
    receivedAt: batch.receivedAt,
    ignored: event.status === null,
  };
}

function providerKeyOf(event: ParsedEvent): ProviderKey {
  return { providerMessageId: event.providerMessageId!, recipient: event.recipient ?? '' };
}

function providerKeyString(key: ProviderKey): string {
  return `${key.providerMessageId}\u0000${key.recipient}`;
}

/** Our ids arrive through provider metadata, so they are untrusted text: bound their length. */
function usableId(id: string | undefined): string | null {
  return id && id.length <= MAX_ID_LENGTH ? id : null;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
