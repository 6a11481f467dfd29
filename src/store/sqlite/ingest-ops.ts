import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { HitPoint, IngestOps, MessageKey, ProviderKey, SubscribedEndpoint } from '../ingest.js';
import type { DeliveryRow, EventRow, MessageRow } from '../schema.js';
import { STATE_COLUMNS } from '../rows.js';
import { BURST_MS } from '../hit-verdicts.js';

const EVENT_COLUMNS: (keyof EventRow)[] = [
  'id', 'environment_id', 'integration_id', 'message_id', 'provider', 'status', 'native_type', 'ignored', 'occurred_at', 'received_at',
  'provider_message_id', 'recipient', 'dedupe_key', 'bounce_type', 'reason', 'attempts', 'url', 'user_agent', 'ip', 'machine', 'machine_reason', 'echo', 'raw',
  'machine_kind', 'origin', 'burst',
];
const DELIVERY_COLUMNS: (keyof DeliveryRow)[] = [
  'id', 'environment_id', 'endpoint_id', 'event_id', 'message_id', 'event_type', 'status', 'attempts', 'next_attempt_at', 'lease_until',
  'last_status_code', 'last_error', 'created_at', 'updated_at',
];
const MESSAGE_COLUMNS: (keyof MessageRow)[] = [
  'environment_id', 'id', 'integration_id', 'provider', 'provider_message_id', 'recipient', 'from_address', 'subject', 'tags', 'metadata',
  'workflow_run_id', 'step_run_id', 'origin', 'created_at', 'updated_at', 'first_with_provider_id', ...STATE_COLUMNS,
];

/**
 * The ingest operations as prepared statements on the one SQLite connection. SQLite has no network round trip,
 * so a statement per row is cheaper than building one huge statement; measured in bench/ingest.
 * The caller holds the connection (and its transaction) for the whole batch, so no row locks are needed.
 */
export class SqliteIngestOps implements IngestOps {
  private readonly statements: Record<
    | 'findEvent'
    | 'eventExists'
    | 'findMessage'
    | 'lockMessage'
    | 'findByProviderKey'
    | 'findByProviderId'
    | 'giveRecipient'
    | 'insertMessage'
    | 'insertEvent'
    | 'saveState'
    | 'findEndpoints'
    | 'insertDelivery'
    | 'messageEvents'
    | 'countNearby'
    | 'growNearby'
    | 'updateHit'
    | 'firstHuman',
    Statement
  >;

  private readonly pending = new Map<string, MessageRow>();

  constructor(database: SqliteDatabase) {
    this.statements = {
      findEvent: database.prepare('select * from events where integration_id = ? and dedupe_key = ?'),
      eventExists: database.prepare('select 1 from events where integration_id = ? and dedupe_key = ?').pluck(),
      findMessage: database.prepare('select id, integration_id, provider_message_id, recipient, created_at, first_with_provider_id from messages where environment_id = ? and id = ?'),
      lockMessage: database.prepare('select * from messages where environment_id = ? and id = ?'),
      findByProviderKey: database.prepare(
        'select id, integration_id, provider_message_id, recipient, created_at, first_with_provider_id from messages where integration_id = ? and provider_message_id = ? and recipient = ?',
      ),
      findByProviderId: database.prepare('select id, integration_id, provider_message_id, recipient, created_at, first_with_provider_id from messages where integration_id = ? and provider_message_id = ?'),
      giveRecipient: database.prepare("update messages set recipient = ? where environment_id = ? and id = ? and recipient = ''"),
      insertMessage: database.prepare(
        `insert into messages (${MESSAGE_COLUMNS.join(', ')}) values (${MESSAGE_COLUMNS.map(() => '?').join(', ')})`,
      ),
      insertEvent: database.prepare(
        `insert into events (${EVENT_COLUMNS.join(', ')}) values (${EVENT_COLUMNS.map(() => '?').join(', ')}) ` +
          'on conflict (integration_id, dedupe_key) do nothing',
      ),
      messageEvents: database.prepare('select * from events where environment_id = ? and message_id = ? and ignored = 0'),
      countNearby: database.prepare(
        "select count(*) from (select 1 from events where environment_id = ? and message_id = ? and occurred_at > ? and occurred_at < ? and origin = 'first-party' " +
          "and status in ('opened', 'clicked') and id <> ? limit ?)",
      ).pluck(),
      // `burst < 10` spelled as the partial index `events_growing_bursts` is (migration 0008), so the planner uses it
      growNearby: database.prepare(
        'update events set burst = burst + 1 where environment_id = ? and message_id = ? and occurred_at > ? and occurred_at < ? and burst < 10 and burst < ? returning *',
      ),
      updateHit: database.prepare('update events set burst = ?, machine = ?, machine_kind = ?, machine_reason = ? where id = ?'),
      firstHuman: database.prepare('select min(occurred_at) from events where environment_id = ? and message_id = ? and status = ? and machine = 0 and ignored = 0').pluck(),
      findEndpoints: database.prepare('select id, event_types from webhook_endpoints where environment_id = ? and enabled = 1'),
      insertDelivery: database.prepare(
        `insert into deliveries (${DELIVERY_COLUMNS.join(', ')}) values (${DELIVERY_COLUMNS.map(() => '?').join(', ')}) on conflict (endpoint_id, event_id) do nothing`,
      ),
      saveState: database.prepare(
        `update messages set updated_at = ?, ${STATE_COLUMNS.map((column) => `${column} = ?`).join(', ')} where environment_id = ? and id = ?`,
      ),
    };
  }

  /** Forgets messages a failed batch left unwritten; called before every batch. */
  reset(): void {
    this.pending.clear();
  }

  async findEvents(integrationId: string, dedupeKeys: string[]): Promise<EventRow[]> {
    // Most keys are new: probe the index for the key alone, and read whole rows only for the ones found.
    const rows: EventRow[] = [];
    for (const key of dedupeKeys) {
      if (this.statements.eventExists.get(integrationId, key) === undefined) continue;
      rows.push(this.statements.findEvent.get(integrationId, key) as EventRow);
    }
    return rows;
  }

  async findMessagesById(environmentId: string, ids: string[]): Promise<MessageKey[]> {
    const rows: MessageKey[] = [];
    for (const id of ids) {
      const row = this.statements.findMessage.get(environmentId, id) as MessageKey | undefined;
      if (row) rows.push(row);
    }
    return rows;
  }

  async findMessagesByProviderKey(integrationId: string, keys: ProviderKey[]): Promise<MessageKey[]> {
    // The exact key first, as most events find their message: all of a provider id's messages (a batch send may
    // have hundreds) only when that misses or the event names no recipient.
    const rows: MessageKey[] = [];
    const widened = new Set<string>();
    for (const key of keys) {
      if (key.recipient !== '') {
        const row = this.statements.findByProviderKey.get(integrationId, key.providerMessageId, key.recipient) as MessageKey | undefined;
        if (row) {
          rows.push(row);
          continue;
        }
      }
      if (widened.has(key.providerMessageId)) continue;
      widened.add(key.providerMessageId);
      rows.push(...(this.statements.findByProviderId.all(integrationId, key.providerMessageId) as MessageKey[]));
    }
    return rows;
  }

  async giveRecipients(environmentId: string, messages: { id: string; recipient: string }[]): Promise<Set<string>> {
    const given = new Set<string>();
    for (const { id, recipient } of messages) if (this.statements.giveRecipient.run(recipient, environmentId, id).changes > 0) given.add(id);
    return given;
  }

  /**
   * Correlation has just checked that none of these exist, and this connection holds the write lock, so the
   * rows are written once, with their final state, by `saveMessageStates` (an insert and an update per new
   * message measurably cost more). Only a repeated id inside the batch is refused.
   */
  async insertMessages(rows: MessageRow[]): Promise<Set<string>> {
    const inserted = new Set<string>();
    for (const row of rows) {
      if (inserted.has(row.id)) continue;
      inserted.add(row.id);
      this.pending.set(row.id, row);
    }
    return inserted;
  }

  async lockMessages(environmentId: string, ids: string[]): Promise<MessageRow[]> {
    const rows: MessageRow[] = [];
    for (const id of ids) {
      const row = this.statements.lockMessage.get(environmentId, id) as MessageRow | undefined;
      if (row) rows.push(row);
    }
    return rows;
  }

  async insertEvents(rows: EventRow[]): Promise<Set<string>> {
    const inserted = new Set<string>();
    const insert = this.statements.insertEvent;
    for (const row of rows) {
      // positional binding: measurably cheaper than binding 23 named parameters per row
      const result = insert.run(
        row.id, row.environment_id, row.integration_id, row.message_id, row.provider, row.status, row.native_type, row.ignored,
        row.occurred_at, row.received_at, row.provider_message_id, row.recipient, row.dedupe_key, row.bounce_type, row.reason,
        row.attempts, row.url, row.user_agent, row.ip, row.machine, row.machine_reason, row.echo, row.raw,
        row.machine_kind, row.origin, row.burst,
      );
      if (result.changes > 0) inserted.add(row.dedupe_key);
    }
    return inserted;
  }

  async findMessageEvents(environmentId: string, messageIds: string[]): Promise<EventRow[]> {
    return messageIds.flatMap((id) => this.statements.messageEvents.all(environmentId, id) as EventRow[]);
  }

  async countNearbyHits(environmentId: string, hits: HitPoint[], cap: number): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const { id, messageId, at } of hits) counts.set(id, Number(this.statements.countNearby.get(environmentId, messageId, at - BURST_MS, at + BURST_MS, id, cap)));
    return counts;
  }

  async growNearbyBursts(environmentId: string, hits: HitPoint[], cap: number): Promise<EventRow[]> {
    // One new hit at a time: a neighbour of several gets one for each, up to the cap; the last copy of a row is current.
    const rows = new Map<string, EventRow>();
    for (const { messageId, at } of hits) {
      for (const row of this.statements.growNearby.all(environmentId, messageId, at - BURST_MS, at + BURST_MS, cap) as EventRow[]) rows.set(row.id, row);
    }
    return [...rows.values()];
  }

  async updateHits(rows: Pick<EventRow, 'id' | 'burst' | 'machine' | 'machine_kind' | 'machine_reason'>[]): Promise<void> {
    for (const row of rows) this.statements.updateHit.run(row.burst, row.machine, row.machine_kind, row.machine_reason, row.id);
  }

  async firstHumanAt(environmentId: string, messageId: string, status: 'opened' | 'clicked'): Promise<number | null> {
    const at = this.statements.firstHuman.get(environmentId, messageId, status) as number | null;
    return at === null ? null : Number(at);
  }

  async findEndpoints(environmentId: string): Promise<SubscribedEndpoint[]> {
    const rows = this.statements.findEndpoints.all(environmentId) as { id: string; event_types: string }[];
    return rows.map((row) => ({ id: row.id, eventTypes: JSON.parse(row.event_types) as string[] }));
  }

  async insertDeliveries(rows: DeliveryRow[]): Promise<void> {
    for (const row of rows) this.statements.insertDelivery.run(DELIVERY_COLUMNS.map((column) => row[column]));
  }

  async saveMessageStates(rows: MessageRow[]): Promise<void> {
    for (const row of rows) {
      if (this.pending.delete(row.id)) this.insertNew(row);
      else this.statements.saveState.run(row.updated_at, ...STATE_COLUMNS.map((column) => row[column]), row.environment_id, row.id);
    }
    for (const row of this.pending.values()) this.insertNew(row);
    this.pending.clear();
  }

  /** Correlation found no such message: a plain insert, so if one exists after all the batch fails, not points nowhere. */
  private insertNew(row: MessageRow): void {
    this.statements.insertMessage.run(MESSAGE_COLUMNS.map((column) => row[column]));
  }
}
