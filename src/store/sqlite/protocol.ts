import { newEventRow, type IngestRecord } from '../ingest.js';
import type { EventRow, MessageRow } from '../schema.js';
import type { IngestBatch } from '../types.js';

/** Requests from the main thread to the SQLite thread. */
export type WorkerRequest =
  | { id: number; kind: 'query'; sql: string; parameters: readonly unknown[] }
  | { id: number; kind: 'ingest'; batches: IngestBatch[] }
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

/** The main thread's side of `compactIngest`: rebuilds the records from the batch it sent. */
export function expandIngest(batch: IngestBatch, compact: CompactIngest): IngestRecord[] {
  return batch.events.map((event, index) => {
    const entry = compact.events[index]!;
    if (!Array.isArray(entry)) return { row: entry, duplicate: true, message: null };
    const [id, messageId, position] = entry;
    return { row: newEventRow(batch, event, id, messageId), duplicate: false, message: position >= 0 ? compact.messages[position]! : null };
  });
}
