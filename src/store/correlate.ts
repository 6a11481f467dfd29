import type { ParsedEvent } from '../core/event.js';
import { newId } from '../core/ids.js';
import { EMPTY_STATE } from '../core/message-state.js';
import { stateToColumns } from './rows.js';
import type { IngestOps, MessageKey, ProviderKey } from './ingest.js';
import type { MessageRow } from './schema.js';
import type { IngestBatch } from './types.js';

/*
 * Which message an event belongs to. Our id (from the provider's metadata) first; then the provider's message id
 * with the recipient. Some events name no recipient (the notification platforms' SDKs, a recipient-less SES
 * notification, any provider's event whose address is missing), and one provider id may be one message to several
 * recipients (SendGrid, SES and Mailgun batch sends), so within one integration and provider id:
 *
 * - an event with a recipient goes to the message with that recipient; when there is none and the only message with
 *   that provider id names no recipient, the event takes that message and gives it its recipient (the message is
 *   the same one, known better); otherwise it makes a message of its own;
 * - an event with no recipient goes to the FIRST message of that provider id, whatever its recipient: the one that
 *   was created while no other message had the provider id, which carries a mark (`first_with_provider_id`, unique
 *   per integration and provider id, kept by registration merges). The mark never moves, so all such events land on
 *   one message whatever order requests commit in and whatever the nodes' clocks say; only messages stored before the
 *   mark existed fall back to the earliest created (ties by id). Only when there is no message at all does it make
 *   one with no recipient, which the first registration or event that names a recipient then takes over.
 *
 * In one order of arrival (a registration, then recipient-less events) and the other (events, then the
 * registration), one message results with every event. With several recipients and recipient-less events, the
 * message those events land on depends on which recipient was seen first: nothing in such an event says more.
 */

/** PostgreSQL's serialization_failure: the store reruns a transaction that fails with it. */
export const RETRY_TRANSACTION = '40001';

const EMPTY_STATE_COLUMNS = Object.freeze(stateToColumns(EMPTY_STATE));
const MAX_ID_LENGTH = 255;
/** The characters a message id may hold, the same rule as registration (`POST /v1/messages`). */
const ID_PATTERN = /^[\w.:@-]+$/;

export interface Correlation {
  resolve: (event: ParsedEvent) => string | null;
  /** Messages this transaction inserted, by id. */
  created: Map<string, MessageRow>;
  /** First-party batches: the integration of each message found or created by our id (see IngestBatch.origin). */
  homes: Map<string, string>;
}

/** A message an event may go to: stored, or about to be inserted by this batch (`planned`). */
interface Candidate {
  id: string;
  recipient: string;
  createdAt: number;
  /** The first message of its provider id (see above). */
  first: boolean;
  planned?: MessageRow;
}

/** The messages of one integration that correlation has seen, by provider id and by provider id and recipient. */
class ProviderMessages {
  private readonly byKey = new Map<string, Candidate>();
  private readonly byProviderId = new Map<string, Candidate[]>();

  add(providerMessageId: string, candidate: Candidate): void {
    const key = providerKeyString(providerMessageId, candidate.recipient);
    if (this.byKey.has(key)) return;
    this.byKey.set(key, candidate);
    const list = this.byProviderId.get(providerMessageId);
    if (list) list.push(candidate);
    else this.byProviderId.set(providerMessageId, [candidate]);
  }

  exact(key: string): Candidate | undefined {
    return this.byKey.get(key);
  }

  all(providerMessageId: string): Candidate[] {
    return this.byProviderId.get(providerMessageId) ?? [];
  }

  /** The recipient-less message, taken over by an event that names `recipient`. */
  giveRecipient(providerMessageId: string, candidate: Candidate, recipient: string): void {
    this.byKey.delete(providerKeyString(providerMessageId, candidate.recipient));
    candidate.recipient = recipient;
    this.byKey.set(providerKeyString(providerMessageId, recipient), candidate);
  }
}

interface Entry {
  event: ParsedEvent;
  /** Our id from the provider's metadata, when it is usable and not another integration's. */
  id: string | null;
  providerMessageId: string | null;
  recipient: string;
  key: string | null;
}

export async function correlate(ops: IngestOps, batch: IngestBatch, events: ParsedEvent[]): Promise<Correlation> {
  const { environmentId, integrationId } = batch;
  // A first-party hit's id comes from an authenticated token: it is followed to its message in any integration.
  const trusted = batch.origin === 'first-party';
  const idOf = trusted ? trustedId : usableId;
  const claimedIds = unique(events.map((event) => idOf(event.mailtrailId)).filter((id): id is string => id !== null));
  // Our ids arrive in provider metadata, which an integration that accepts unsigned requests does not protect:
  // an id is followed only to a message of this integration, and one of another integration is not ours to use.
  const byId = new Set<string>();
  const foreign = new Set<string>();
  const homes = new Map<string, string>();
  for (const row of await ops.findMessagesById(environmentId, claimedIds)) {
    if (trusted || row.integration_id === integrationId) {
      byId.add(row.id);
      homes.set(row.id, row.integration_id ?? integrationId);
    } else {
      foreign.add(row.id);
    }
  }

  // Each event's keys are computed once: hashing a fresh 80-character key string per lookup was measurable.
  const entries: Entry[] = events.map((event) => {
    const id = idOf(event.mailtrailId);
    const providerMessageId = event.providerMessageId ?? null;
    const recipient = event.recipient ?? '';
    return {
      event,
      id: id !== null && !foreign.has(id) ? id : null,
      providerMessageId,
      recipient,
      key: providerMessageId === null ? null : providerKeyString(providerMessageId, recipient),
    };
  });

  const messages = new ProviderMessages();
  const wanted = new Map<string, ProviderKey>();
  for (const { id, providerMessageId, recipient, key } of entries) {
    if ((id && byId.has(id)) || key === null || wanted.has(key)) continue;
    wanted.set(key, { providerMessageId: providerMessageId!, recipient });
  }
  for (const row of await ops.findMessagesByProviderKey(integrationId, [...wanted.values()])) messages.add(row.provider_message_id!, stored(row));

  // Events for messages we have never seen create them (origin `provider`); ignored events never create or change
  // one. One id makes one message, even when its events name several recipients.
  const chosen = new Map<ParsedEvent, Candidate | string>();
  const planned: MessageRow[] = [];
  const plannedIds = new Set<string>();
  const recipientsGiven: Candidate[] = [];
  for (const entry of entries) {
    const { event, id, providerMessageId, recipient, key } = entry;
    if (event.status === null) continue;
    if (id && (byId.has(id) || plannedIds.has(id))) {
      chosen.set(event, id);
      continue;
    }
    let candidate = key === null ? undefined : messages.exact(key);
    let first = false;
    if (!candidate && providerMessageId !== null) {
      const siblings = messages.all(providerMessageId);
      if (recipient === '') candidate = landing(siblings);
      else if (siblings.length === 1 && siblings[0]!.recipient === '') {
        candidate = siblings[0]!;
        if (candidate.planned) candidate.planned.recipient = recipient;
        else recipientsGiven.push(candidate);
        messages.giveRecipient(providerMessageId, candidate, recipient);
      }
      first = siblings.length === 0;
    }
    if (!candidate) {
      const row = newMessageRow(batch, event, id ?? newId('msg', batch.receivedAt), first);
      candidate = { id: row.id, recipient, createdAt: row.created_at, first, planned: row };
      if (providerMessageId !== null) messages.add(providerMessageId, candidate);
      planned.push(row);
      plannedIds.add(row.id);
    }
    chosen.set(event, candidate);
  }

  if (recipientsGiven.length > 0) {
    const given = await ops.giveRecipients(environmentId, recipientsGiven.map(({ id, recipient }) => ({ id, recipient })));
    // Another transaction took the message (a registration, an event naming another recipient) after we read it.
    if (given.size < recipientsGiven.length) throw retry('a recipient-less message was taken during ingest');
  }

  const created = new Map<string, MessageRow>();
  const replaced = new Map<string, string>();
  if (planned.length > 0) {
    // A fixed order of inserts keeps two concurrent PostgreSQL batches from deadlocking on each other's rows.
    const order = (row: MessageRow) => (row.provider_message_id === null ? `id:${row.id}` : providerKeyString(row.provider_message_id, row.recipient ?? ''));
    const rows = [...planned].sort((a, b) => compareText(order(a), order(b)));
    const insertedIds = await ops.insertMessages(rows);
    for (const row of rows) {
      if (!insertedIds.has(row.id)) continue;
      created.set(row.id, row);
      homes.set(row.id, integrationId);
    }
    const lost = rows.filter((row) => !insertedIds.has(row.id));
    if (lost.length > 0) await replaceLost(ops, batch, lost, replaced, homes);
  }

  const resolved = new Map<ParsedEvent, string | null>();
  for (const entry of entries) {
    const { event, id, providerMessageId, recipient, key } = entry;
    const choice = chosen.get(event);
    if (choice !== undefined) {
      const chosenId = typeof choice === 'string' ? choice : choice.id;
      resolved.set(event, replaced.get(chosenId) ?? chosenId);
      continue;
    }
    // An ignored event goes where it plainly belongs, and nowhere when that is a guess.
    const candidate = id && byId.has(id) ? id : key === null ? undefined : (messages.exact(key) ?? (recipient === '' ? landing(messages.all(providerMessageId!)) : undefined));
    const candidateId = typeof candidate === 'string' ? candidate : (candidate?.id ?? null);
    resolved.set(event, candidateId === null ? null : (replaced.get(candidateId) ?? candidateId));
  }
  return { created, homes, resolve: (event) => resolved.get(event) ?? null };
}

/**
 * Only on PostgreSQL can a concurrent batch have created a message first: the same id, the same provider id and
 * recipient, or the first message of the same provider id (the `messages_first_by_provider_id` index). The first
 * two are the message this batch meant to make; the third may be another recipient's, so the batch runs again and
 * correlates with what is now stored.
 */
async function replaceLost(ops: IngestOps, batch: IngestBatch, lost: MessageRow[], replaced: Map<string, string>, homes: Map<string, string>): Promise<void> {
  const ours = new Set<string>();
  for (const row of await ops.findMessagesById(batch.environmentId, lost.map((row) => row.id))) {
    if (batch.origin !== 'first-party' && row.integration_id !== batch.integrationId) continue;
    ours.add(row.id);
    homes.set(row.id, row.integration_id ?? batch.integrationId);
  }
  const keys = lost.filter((row) => row.provider_message_id !== null).map((row) => ({ providerMessageId: row.provider_message_id!, recipient: row.recipient ?? '' }));
  const byKey = new Map<string, string>();
  for (const row of await ops.findMessagesByProviderKey(batch.integrationId, keys)) byKey.set(providerKeyString(row.provider_message_id!, row.recipient ?? ''), row.id);
  for (const row of lost) {
    if (ours.has(row.id)) continue;
    const existing = row.provider_message_id === null ? undefined : byKey.get(providerKeyString(row.provider_message_id, row.recipient ?? ''));
    if (existing === undefined) throw retry('a concurrent batch made the first message of a provider id');
    replaced.set(row.id, existing);
  }
}

function stored(row: MessageKey): Candidate {
  return { id: row.id, recipient: row.recipient ?? '', createdAt: Number(row.created_at), first: Number(row.first_with_provider_id) === 1 };
}

/** The rule for events that name no recipient: the marked first message; without one, the earliest created. */
function landing(candidates: Candidate[]): Candidate | undefined {
  const marked = candidates.find((candidate) => candidate.first);
  if (marked) return marked;
  let best: Candidate | undefined;
  for (const candidate of candidates) {
    if (!best || candidate.createdAt < best.createdAt || (candidate.createdAt === best.createdAt && candidate.id < best.id)) best = candidate;
  }
  return best;
}

function newMessageRow(batch: IngestBatch, event: ParsedEvent, id: string, first: boolean): MessageRow {
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
    origin: batch.origin === 'first-party' ? 'first-party' : 'provider',
    created_at: batch.receivedAt,
    updated_at: batch.receivedAt,
    first_with_provider_id: first ? 1 : 0,
    ...EMPTY_STATE_COLUMNS,
  };
}

function retry(message: string): Error {
  return Object.assign(new Error(message), { code: RETRY_TRANSACTION });
}

export function providerKeyString(providerMessageId: string, recipient: string): string {
  return `${providerMessageId}\u0000${recipient}`;
}

/** An id from an authenticated tracking token: any text a message id may be. */
function trustedId(id: string | undefined): string | null {
  return id && id.length <= MAX_ID_LENGTH ? id : null;
}

/** Our ids arrive through provider metadata, so they are untrusted text: only ids we could have issued count. */
function usableId(id: string | undefined): string | null {
  return id && id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id) ? id : null;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
