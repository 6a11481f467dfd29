import type { ParsedEvent } from '../../core/event.js';
import type { IngestRecord } from '../ingest.js';
import { eventFromRow, messageFromRow } from '../rows.js';
import type { EventRow, MessageRow } from '../schema.js';
import type { IngestBatch, IngestResult, Message } from '../types.js';

/** Requests from the main thread to the SQLite thread. */
export type WorkerRequest =
  | { id: number; kind: 'query'; sql: string; parameters: readonly unknown[] }
  | { id: number; kind: 'ingest'; batches: PackedBatch[] }
  | { id: number; kind: 'close' };

export type WorkerReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: { message: string; code?: string | undefined } };

/**
 * Ingest records as they cross back to the main thread. A newly stored event is sent as its id and message id
 * only: the main thread still holds the parsed event, and copying every raw payload back would cost the SQLite
 * thread more than the inserts themselves. Duplicates come back whole, as stored.
 */
export interface CompactIngest {
  /** Per input event: [eventId, messageId, messageIndex] when stored now, or the stored row of a duplicate. */
  events: ([string, string | null, number] | EventRow)[];
  /** The affected messages after the batch. */
  messages: MessageRow[];
}

/** The outcome of one batch of a group: its records, or why it alone failed. */
export type GroupOutcome = { ok: true; result: CompactIngest } | { ok: false; error: { message: string; code?: string | undefined } };

export function compactIngest(records: IngestRecord[]): CompactIngest {
  const messages: MessageRow[] = [];
  const index = new Map<MessageRow, number>();
  const events = records.map(({ row, duplicate, message }): [string, string | null, number] | EventRow => {
    if (duplicate) return row;
    let position = -1;
    if (message) {
      position = index.get(message) ?? messages.push(message) - 1;
      index.set(message, position);
    }
    return [row.id, row.message_id, position];
  });
  return { events, messages };
}

/** The main thread's side of `compactIngest`: the results, from the batch it sent and what came back. */
export function expandIngest(batch: IngestBatch, compact: CompactIngest): IngestResult[] {
  const messages: (Message | undefined)[] = [];
  return batch.events.map((event, index) => {
    const entry = compact.events[index]!;
    if (!Array.isArray(entry)) return { event: eventFromRow(entry), duplicate: true, message: null };
    const [id, messageId, position] = entry;
    const message = position < 0 ? null : (messages[position] ??= messageFromRow(compact.messages[position]!));
    return {
      event: {
        id,
        environmentId: batch.environmentId,
        integrationId: batch.integrationId,
        provider: batch.provider,
        messageId,
        receivedAt: batch.receivedAt,
        ignored: event.status === null,
        status: event.status,
        nativeType: event.nativeType,
        occurredAt: event.occurredAt,
        dedupeKey: event.dedupeKey,
        providerMessageId: event.providerMessageId,
        recipient: event.recipient,
        bounceType: event.bounceType,
        reason: event.reason,
        attempts: event.attempts,
        url: event.url,
        userAgent: event.userAgent,
        ip: event.ip,
        machine: event.machine ?? false,
        machineReason: event.machineReason,
        raw: event.raw,
      },
      duplicate: false,
      message,
    };
  });
}

/**
 * A batch as it crosses to the SQLite thread: each event as a list of values in PARSED_FIELDS order. Copying
 * arrays between threads is about three times cheaper than copying objects with the same fields.
 */
export interface PackedBatch extends Omit<IngestBatch, 'events'> {
  events: unknown[][];
}

const PARSED_FIELDS = [
  'status', 'nativeType', 'occurredAt', 'dedupeKey', 'providerMessageId', 'mailtrailId', 'recipient', 'bounceType',
  'reason', 'attempts', 'url', 'userAgent', 'ip', 'machine', 'machineReason', 'raw',
] as const satisfies readonly (keyof ParsedEvent)[];

export function packBatch(batch: IngestBatch): PackedBatch {
  return { ...batch, events: batch.events.map((event) => PARSED_FIELDS.map((field) => event[field])) };
}

export function unpackBatch(packed: PackedBatch): IngestBatch {
  return {
    ...packed,
    events: packed.events.map(
      (values): ParsedEvent => ({
        status: values[0] as ParsedEvent['status'],
        nativeType: values[1] as string,
        occurredAt: values[2] as number,
        dedupeKey: values[3] as string,
        providerMessageId: values[4] as string | undefined,
        mailtrailId: values[5] as string | undefined,
        recipient: values[6] as string | undefined,
        bounceType: values[7] as ParsedEvent['bounceType'],
        reason: values[8] as string | undefined,
        attempts: values[9] as number | undefined,
        url: values[10] as string | undefined,
        userAgent: values[11] as string | undefined,
        ip: values[12] as string | undefined,
        machine: values[13] as boolean | undefined,
        machineReason: values[14] as string | undefined,
        raw: values[15] as string,
      }),
    ),
  };
}
