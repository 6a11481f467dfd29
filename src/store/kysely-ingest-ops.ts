import type { Kysely, Transaction } from 'kysely';
import type { IngestOps, MessageKey, ProviderKey } from './ingest.js';
import type { Database, EventRow, MessageRow } from './schema.js';

// SQLite allows 32766 bound parameters per statement and PostgreSQL 65535; an event row has 22 columns.
const ROWS_PER_INSERT = 400;
const KEYS_PER_LOOKUP = 500;

/** The ingest operations as bulk statements, for any dialect Kysely speaks (row locks only on PostgreSQL). */
export class KyselyIngestOps implements IngestOps {
  constructor(
    private readonly db: Transaction<Database> | Kysely<Database>,
    private readonly rowLocks: boolean,
  ) {}

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
          .select(['id', 'integration_id', 'provider_message_id', 'recipient'])
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
      // Select by provider id, then match the recipient here: one indexed IN list instead of OR-ed pairs.
      const wanted = new Set(part.map((key) => `${key.providerMessageId}\u0000${key.recipient}`));
      const candidates = await this.db
        .selectFrom('messages')
        .select(['id', 'integration_id', 'provider_message_id', 'recipient'])
        .where('integration_id', '=', integrationId)
        .where('provider_message_id', 'in', [...new Set(part.map((key) => key.providerMessageId))])
        .execute();
      rows.push(...candidates.filter((row) => wanted.has(`${row.provider_message_id}\u0000${row.recipient ?? ''}`)));
    }
    return rows;
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
      let query = this.db.selectFrom('messages').selectAll().where('environment_id', '=', environmentId).where('id', 'in', part).orderBy('id');
      if (this.rowLocks) query = query.forUpdate();
      rows.push(...(await query.execute()));
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

  async saveMessageStates(rows: MessageRow[]): Promise<void> {
    // One multi-row upsert per chunk instead of an UPDATE per message; every row already exists and is locked.
    for (const part of chunks(rows, ROWS_PER_INSERT / 2)) {
      await this.db
        .insertInto('messages')
        .values(part)
        .onConflict((conflict) =>
          conflict.columns(['environment_id', 'id']).doUpdateSet((eb) => ({
            updated_at: eb.ref('excluded.updated_at'),
            status: eb.ref('excluded.status'),
            outcome_status: eb.ref('excluded.outcome_status'),
            outcome_at: eb.ref('excluded.outcome_at'),
            outcome_event_id: eb.ref('excluded.outcome_event_id'),
            outcome_bounce_type: eb.ref('excluded.outcome_bounce_type'),
            outcome_reason: eb.ref('excluded.outcome_reason'),
            opens: eb.ref('excluded.opens'),
            clicks: eb.ref('excluded.clicks'),
            human_opens: eb.ref('excluded.human_opens'),
            human_clicks: eb.ref('excluded.human_clicks'),
            first_opened_at: eb.ref('excluded.first_opened_at'),
            last_opened_at: eb.ref('excluded.last_opened_at'),
            first_clicked_at: eb.ref('excluded.first_clicked_at'),
            last_clicked_at: eb.ref('excluded.last_clicked_at'),
            complained_at: eb.ref('excluded.complained_at'),
            unsubscribed_at: eb.ref('excluded.unsubscribed_at'),
            first_event_at: eb.ref('excluded.first_event_at'),
            last_event_at: eb.ref('excluded.last_event_at'),
            event_count: eb.ref('excluded.event_count'),
          })),
        )
        .execute();
    }
  }

}

export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

