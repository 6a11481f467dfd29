import { sql, type Transaction } from 'kysely';
import { BURST_MS } from '../hit-verdicts.js';
import type { HitPoint, IngestOps, MessageKey, ProviderKey, SubscribedEndpoint } from '../ingest.js';
import { STATE_COLUMNS } from '../rows.js';
import type { Database, DeliveryRow, EventRow, MessageRow } from '../schema.js';

// PostgreSQL allows 65535 bound parameters per statement; an event row has 26 columns.
const ROWS_PER_INSERT = 400;
const KEYS_PER_LOOKUP = 500;

/**
 * The ingest operations on PostgreSQL: multi-row statements (a round trip per statement is the cost that
 * matters here), conflicts skipped and re-read, messages locked before their state is written.
 */
export class PostgresIngestOps implements IngestOps {
  constructor(private readonly db: Transaction<Database>) {}

  async findEvents(integrationId: string, dedupeKeys: string[]): Promise<EventRow[]> {
    const rows: EventRow[] = [];
    for (const keys of chunks(dedupeKeys, KEYS_PER_LOOKUP)) {
      rows.push(...(await this.db.selectFrom('events').selectAll().where('integration_id', '=', integrationId).where('dedupe_key', 'in', keys).execute()));
    }
    return rows;
  }

  async findMessagesById(environmentId: string, ids: string[]): Promise<MessageKey[]> {
    const rows: MessageKey[] = [];
    for (const part of chunks(ids, KEYS_PER_LOOKUP)) {
      rows.push(
        ...(await this.db
          .selectFrom('messages')
          .select(['id', 'integration_id', 'provider_message_id', 'recipient', 'created_at', 'first_with_provider_id'])
          .where('environment_id', '=', environmentId)
          .where('id', 'in', part)
          .execute()),
      );
    }
    return rows;
  }

  async findMessagesByProviderKey(integrationId: string, keys: ProviderKey[]): Promise<MessageKey[]> {
    const rows: MessageKey[] = [];
    for (const part of chunks(keys, KEYS_PER_LOOKUP)) {
      // Every message of each provider id, in one indexed IN list (a round trip costs more than the rows): the
      // recipients are matched by correlation, which needs all of them when a key misses or names no recipient.
      rows.push(
        ...(await this.db
          .selectFrom('messages')
          .select(['id', 'integration_id', 'provider_message_id', 'recipient', 'created_at', 'first_with_provider_id'])
          .where('integration_id', '=', integrationId)
          .where('provider_message_id', 'in', [...new Set(part.map((key) => key.providerMessageId))])
          .execute()),
      );
    }
    return rows;
  }

  async giveRecipients(environmentId: string, messages: { id: string; recipient: string }[]): Promise<Set<string>> {
    // Rare (a recipient-less message meeting its first recipient), so one statement each, in id order for the locks.
    const given = new Set<string>();
    for (const { id, recipient } of [...messages].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
      const row = await this.db
        .updateTable('messages')
        .set({ recipient })
        .where('environment_id', '=', environmentId)
        .where('id', '=', id)
        .where('recipient', '=', '')
        .returning('id')
        .executeTakeFirst();
      if (row) given.add(row.id);
    }
    return given;
  }

  async insertMessages(rows: MessageRow[]): Promise<Set<string>> {
    const inserted = new Set<string>();
    for (const part of chunks(rows, ROWS_PER_INSERT / 2)) {
      const returned = await this.db.insertInto('messages').values(part).onConflict((conflict) => conflict.doNothing()).returning('id').execute();
      for (const row of returned) inserted.add(row.id);
    }
    return inserted;
  }

  async lockMessages(environmentId: string, ids: string[]): Promise<MessageRow[]> {
    const rows: MessageRow[] = [];
    for (const part of chunks(ids, KEYS_PER_LOOKUP)) {
      rows.push(
        ...(await this.db.selectFrom('messages').selectAll().where('environment_id', '=', environmentId).where('id', 'in', part).orderBy('id').forUpdate().execute()),
      );
    }
    return rows;
  }

  async insertEvents(rows: EventRow[]): Promise<Set<string>> {
    const inserted = new Set<string>();
    for (const part of chunks(rows, ROWS_PER_INSERT)) {
      const returned = await this.db
        .insertInto('events')
        .values(part)
        .onConflict((conflict) => conflict.columns(['integration_id', 'dedupe_key']).doNothing())
        .returning('dedupe_key')
        .execute();
      for (const row of returned) inserted.add(row.dedupe_key);
    }
    return inserted;
  }

  async findMessageEvents(environmentId: string, messageIds: string[]): Promise<EventRow[]> {
    const rows: EventRow[] = [];
    for (const part of chunks(messageIds, KEYS_PER_LOOKUP)) {
      rows.push(...(await this.db.selectFrom('events').selectAll().where('environment_id', '=', environmentId).where('message_id', 'in', part).where('ignored', '=', 0).execute()));
    }
    return rows;
  }

  async countNearbyHits(environmentId: string, hits: HitPoint[], cap: number): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const part of chunks(hits, KEYS_PER_LOOKUP)) {
      const { rows } = await sql<{ id: string; nearby: number | string }>`
        select h.id, (select count(*) from (
          select 1 from events as e
          where e.environment_id = ${environmentId} and ${nearby('e', 'h')}
            and e.origin = 'first-party' and e.status in ('opened', 'clicked') and e.id <> h.id
          limit ${cap}) as near) as nearby
        from (values ${points(part)}) as h(id, message_id, at)`.execute(this.db);
      for (const row of rows) counts.set(row.id, Number(row.nearby));
    }
    return counts;
  }

  async growNearbyBursts(environmentId: string, hits: HitPoint[], cap: number): Promise<EventRow[]> {
    const rows: EventRow[] = [];
    for (const part of chunks(hits, KEYS_PER_LOOKUP)) {
      // `e.burst < 10` spelled as the partial index `events_growing_bursts` is (migration 0008), so the planner uses it
      const result = await sql<EventRow>`
        update events as target set burst = least(${cap}, target.burst + grown.added)
        from (
          select n.id, count(*) as added
          from (values ${points(part)}) as h(id, message_id, at)
          -- one index range per new hit: 'offset 0' keeps the planner from flattening it into a join that reads
          -- every growing hit of the environment (which it did on a table not yet analyzed)
          cross join lateral (
            select e.id from events as e
            where e.environment_id = ${environmentId} and ${nearby('e', 'h')} and e.burst < 10 and e.burst < ${cap}
            offset 0
          ) as n
          group by n.id
        ) as grown
        where target.id = grown.id
        returning target.*`.execute(this.db);
      rows.push(...result.rows);
    }
    return rows;
  }

  async updateHits(rows: Pick<EventRow, 'id' | 'burst' | 'machine' | 'machine_kind' | 'machine_reason'>[]): Promise<void> {
    for (const part of chunks(rows, ROWS_PER_INSERT)) {
      const values = sql.join(part.map((row) => sql`(${row.id}, ${row.burst}::integer, ${row.machine}::integer, ${row.machine_kind}::text, ${row.machine_reason}::text)`));
      await sql`
        update events as target set burst = v.burst, machine = v.machine, machine_kind = v.machine_kind, machine_reason = v.machine_reason
        from (values ${values}) as v(id, burst, machine, machine_kind, machine_reason)
        where target.id = v.id`.execute(this.db);
    }
  }

  async firstHumanAt(environmentId: string, messageId: string, status: 'opened' | 'clicked'): Promise<number | null> {
    const row = await this.db
      .selectFrom('events')
      .select((eb) => eb.fn.min('occurred_at').as('at'))
      .where('environment_id', '=', environmentId)
      .where('message_id', '=', messageId)
      .where('status', '=', status)
      .where('machine', '=', 0)
      .where('ignored', '=', 0)
      .executeTakeFirst();
    return row?.at === null || row?.at === undefined ? null : Number(row.at);
  }

  async findEndpoints(environmentId: string): Promise<SubscribedEndpoint[]> {
    const rows = await this.db.selectFrom('webhook_endpoints').select(['id', 'event_types']).where('environment_id', '=', environmentId).where('enabled', '=', 1).execute();
    return rows.map((row) => ({ id: row.id, eventTypes: JSON.parse(row.event_types) as string[] }));
  }

  async insertDeliveries(rows: DeliveryRow[]): Promise<void> {
    for (const part of chunks(rows, ROWS_PER_INSERT)) {
      await this.db.insertInto('deliveries').values(part).onConflict((conflict) => conflict.columns(['endpoint_id', 'event_id']).doNothing()).execute();
    }
  }

  async saveMessageStates(rows: MessageRow[]): Promise<void> {
    // One multi-row upsert per chunk instead of an UPDATE per message; every row already exists and is locked.
    for (const part of chunks(rows, ROWS_PER_INSERT / 2)) {
      await this.db
        .insertInto('messages')
        .values(part)
        .onConflict((conflict) =>
          conflict
            .columns(['environment_id', 'id'])
            .doUpdateSet((eb) => Object.fromEntries(['updated_at', ...STATE_COLUMNS].map((column) => [column, eb.ref(`excluded.${column}` as never)])) as never),
        )
        .execute();
    }
  }
}

/**
 * Events of `h`'s message less than BURST_MS from it, as one range of `events_by_message` (and of the partial index
 * `events_growing_bursts`): the row comparisons cannot be read from `events_feed`. Written as separate conditions,
 * the planner of a table not yet analyzed (a new database, before autovacuum's first pass) took `events_feed` and
 * read every event of the environment in the last 4 s for each hit: 0.7 ms per hit at 1,000 hits/s, growing with the
 * rate, against 0.04 ms (bench/engagement).
 */
function nearby(e: string, h: string) {
  const [event, hit] = [sql.ref(e), sql.ref(h)];
  return sql`(${event}.message_id, ${event}.occurred_at) > (${hit}.message_id, ${hit}.at - ${BURST_MS}) and (${event}.message_id, ${event}.occurred_at) < (${hit}.message_id, ${hit}.at + ${BURST_MS})`;
}

function points(hits: HitPoint[]) {
  return sql.join(hits.map((hit) => sql`(${hit.id}, ${hit.messageId}, ${hit.at}::bigint)`));
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

