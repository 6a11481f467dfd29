import { sql, type Kysely, type Migration } from 'kysely';

export type Dialect = 'sqlite' | 'postgres';

/** Every schema change, in order. Each is applied once, inside Kysely's migration lock. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  // epoch milliseconds overflow a 32-bit integer; SQLite's integer is already 64-bit
  const time = dialect === 'postgres' ? 'bigint' : 'integer';
  return {
    '0001_initial': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('environments')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('created_at', time, (column) => column.notNull())
          .execute();

        await db.schema
          .createTable('api_keys')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('environment_id', 'text', (column) => column.notNull().references('environments.id').onDelete('cascade'))
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('key_hash', 'text', (column) => column.notNull().unique())
          .addColumn('key_prefix', 'text', (column) => column.notNull())
          .addColumn('created_at', time, (column) => column.notNull())
          .execute();

        await db.schema
          .createTable('integrations')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('environment_id', 'text', (column) => column.notNull().references('environments.id').onDelete('cascade'))
          .addColumn('provider', 'text', (column) => column.notNull())
          .addColumn('name', 'text', (column) => column.notNull())
          .addColumn('activity_tracking', 'integer', (column) => column.notNull())
          .addColumn('allow_unsigned', 'integer', (column) => column.notNull())
          .addColumn('signing_key_enc', 'text')
          .addColumn('credentials_enc', 'text')
          .addColumn('created_at', time, (column) => column.notNull())
          .addColumn('updated_at', time, (column) => column.notNull())
          .execute();
        await db.schema.createIndex('integrations_by_environment').on('integrations').columns(['environment_id', 'created_at']).execute();

        let messages = db.schema
          .createTable('messages')
          .addColumn('environment_id', 'text', (column) => column.notNull())
          .addColumn('id', 'text', (column) => column.notNull())
          .addColumn('integration_id', 'text')
          .addColumn('provider', 'text')
          .addColumn('provider_message_id', 'text')
          .addColumn('recipient', 'text')
          .addColumn('from_address', 'text')
          .addColumn('subject', 'text')
          .addColumn('tags', 'text', (column) => column.notNull())
          .addColumn('metadata', 'text', (column) => column.notNull())
          .addColumn('workflow_run_id', 'text')
          .addColumn('step_run_id', 'text')
          .addColumn('origin', 'text', (column) => column.notNull())
          .addColumn('created_at', time, (column) => column.notNull())
          .addColumn('updated_at', time, (column) => column.notNull())
          .addColumn('status', 'text')
          .addColumn('outcome_status', 'text')
          .addColumn('outcome_at', time)
          .addColumn('outcome_event_id', 'text')
          .addColumn('outcome_bounce_type', 'text')
          .addColumn('outcome_reason', 'text');
        for (const counter of ['opens', 'clicks', 'human_opens', 'human_clicks']) {
          messages = messages.addColumn(counter, 'integer', (column) => column.notNull().defaultTo(0));
        }
        for (const moment of [
          'first_opened_at',
          'last_opened_at',
          'first_clicked_at',
          'last_clicked_at',
          'complained_at',
          'unsubscribed_at',
          'first_event_at',
          'last_event_at',
        ]) {
          messages = messages.addColumn(moment, time);
        }
        await messages
          .addColumn('event_count', 'integer', (column) => column.notNull().defaultTo(0))
          .addPrimaryKeyConstraint('messages_pk', ['environment_id', 'id'])
          .execute();
        await db.schema
          .createIndex('messages_by_provider_id')
          .on('messages')
          .columns(['integration_id', 'provider_message_id', 'recipient'])
          .unique()
          .execute();
        await db.schema.createIndex('messages_feed').on('messages').columns(['environment_id', 'created_at', 'id']).execute();
        await db.schema.createIndex('messages_by_status').on('messages').columns(['environment_id', 'status', 'created_at']).execute();
        await db.schema.createIndex('messages_by_recipient').on('messages').columns(['environment_id', 'recipient']).execute();

        await db.schema
          .createTable('message_tags')
          .addColumn('environment_id', 'text', (column) => column.notNull())
          .addColumn('message_id', 'text', (column) => column.notNull())
          .addColumn('tag', 'text', (column) => column.notNull())
          .addPrimaryKeyConstraint('message_tags_pk', ['environment_id', 'tag', 'message_id'])
          .execute();
        await db.schema.createIndex('message_tags_by_message').on('message_tags').columns(['environment_id', 'message_id']).execute();

        await db.schema
          .createTable('events')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('environment_id', 'text', (column) => column.notNull())
          .addColumn('integration_id', 'text', (column) => column.notNull())
          .addColumn('message_id', 'text')
          .addColumn('provider', 'text', (column) => column.notNull())
          .addColumn('status', 'text')
          .addColumn('native_type', 'text', (column) => column.notNull())
          .addColumn('ignored', 'integer', (column) => column.notNull())
          .addColumn('occurred_at', time, (column) => column.notNull())
          .addColumn('received_at', time, (column) => column.notNull())
          .addColumn('provider_message_id', 'text')
          .addColumn('recipient', 'text')
          .addColumn('dedupe_key', 'text', (column) => column.notNull())
          .addColumn('bounce_type', 'text')
          .addColumn('reason', 'text')
          .addColumn('attempts', 'integer')
          .addColumn('url', 'text')
          .addColumn('user_agent', 'text')
          .addColumn('ip', 'text')
          .addColumn('machine', 'integer', (column) => column.notNull())
          .addColumn('machine_reason', 'text')
          .addColumn('raw', 'text', (column) => column.notNull())
          .execute();
        await db.schema.createIndex('events_dedupe').on('events').columns(['integration_id', 'dedupe_key']).unique().execute();
        await db.schema.createIndex('events_by_message').on('events').columns(['environment_id', 'message_id', 'occurred_at']).execute();
        await db.schema.createIndex('events_feed').on('events').columns(['environment_id', 'occurred_at', 'id']).execute();

        await db.schema
          .createTable('idempotency_keys')
          .addColumn('environment_id', 'text', (column) => column.notNull())
          .addColumn('integration_id', 'text', (column) => column.notNull())
          .addColumn('key', 'text', (column) => column.notNull())
          .addColumn('body_hash', 'text', (column) => column.notNull())
          .addColumn('state', 'text', (column) => column.notNull())
          .addColumn('response', 'text')
          .addColumn('created_at', time, (column) => column.notNull())
          .addPrimaryKeyConstraint('idempotency_keys_pk', ['environment_id', 'integration_id', 'key'])
          .execute();
        await db.schema.createIndex('idempotency_keys_by_age').on('idempotency_keys').column('created_at').execute();
      },
    },
    '0002_providers': {
      async up(db: Kysely<any>) {
        // Per-integration options that are not secret (e.g. the SNS topics an integration accepts), as JSON.
        await db.schema.alterTable('integrations').addColumn('settings', 'text', (column) => column.notNull().defaultTo('{}')).execute();

        // Values a provider promises to sign once (Mailgun's token): the same one with another body is a replay. The
        // scope is the signing key's fingerprint, so integrations sharing one provider key share its nonces.
        await db.schema
          .createTable('inbound_nonces')
          .addColumn('scope', 'text', (column) => column.notNull())
          .addColumn('nonce', 'text', (column) => column.notNull())
          .addColumn('body_hash', 'text', (column) => column.notNull())
          .addColumn('created_at', time, (column) => column.notNull())
          .addPrimaryKeyConstraint('inbound_nonces_pk', ['scope', 'nonce'])
          .execute();
        await db.schema.createIndex('inbound_nonces_by_age').on('inbound_nonces').column('created_at').execute();

        // What happened to an integration besides events: SNS subscriptions confirmed or ended.
        await db.schema
          .createTable('integration_notices')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('environment_id', 'text', (column) => column.notNull())
          .addColumn('integration_id', 'text', (column) => column.notNull())
          .addColumn('kind', 'text', (column) => column.notNull())
          .addColumn('topic', 'text')
          .addColumn('detail', 'text', (column) => column.notNull())
          .addColumn('created_at', time, (column) => column.notNull())
          .execute();
        await db.schema.createIndex('integration_notices_by_integration').on('integration_notices').columns(['environment_id', 'integration_id', 'created_at']).execute();
      },
    },
    '0003_outbound': {
      async up(db: Kysely<any>) {
        await db.schema
          .createTable('webhook_endpoints')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('environment_id', 'text', (column) => column.notNull())
          .addColumn('url', 'text', (column) => column.notNull())
          .addColumn('description', 'text')
          .addColumn('event_types', 'text', (column) => column.notNull())
          .addColumn('enabled', 'integer', (column) => column.notNull())
          .addColumn('headers', 'text', (column) => column.notNull())
          .addColumn('rate_limit', 'integer')
          .addColumn('secret_enc', 'text', (column) => column.notNull())
          .addColumn('previous_secret_enc', 'text')
          .addColumn('previous_secret_until', time)
          .addColumn('disabled_reason', 'text')
          .addColumn('failing_since', time)
          .addColumn('created_at', time, (column) => column.notNull())
          .addColumn('updated_at', time, (column) => column.notNull())
          .execute();
        await db.schema.createIndex('webhook_endpoints_by_environment').on('webhook_endpoints').columns(['environment_id', 'created_at']).execute();

        // The outbox: written in the ingest transaction, so an acknowledged event always has its deliveries.
        await db.schema
          .createTable('deliveries')
          .addColumn('id', 'text', (column) => column.primaryKey())
          .addColumn('environment_id', 'text', (column) => column.notNull())
          .addColumn('endpoint_id', 'text', (column) => column.notNull())
          .addColumn('event_id', 'text', (column) => column.notNull())
          .addColumn('message_id', 'text')
          .addColumn('event_type', 'text', (column) => column.notNull())
          .addColumn('status', 'text', (column) => column.notNull())
          .addColumn('attempts', 'integer', (column) => column.notNull())
          .addColumn('next_attempt_at', time)
          .addColumn('lease_until', time)
          .addColumn('last_status_code', 'integer')
          .addColumn('last_error', 'text')
          .addColumn('created_at', time, (column) => column.notNull())
          .addColumn('updated_at', time, (column) => column.notNull())
          .execute();
        await db.schema.createIndex('deliveries_one_per_event').on('deliveries').columns(['endpoint_id', 'event_id']).unique().execute();
        await db.schema.createIndex('deliveries_due').on('deliveries').columns(['status', 'attempts', 'next_attempt_at']).execute();
        await db.schema.createIndex('deliveries_by_endpoint').on('deliveries').columns(['environment_id', 'endpoint_id', 'created_at', 'id']).execute();

        await db.schema
          .createTable('delivery_attempts')
          .addColumn('delivery_id', 'text', (column) => column.notNull())
          .addColumn('attempt', 'integer', (column) => column.notNull())
          .addColumn('started_at', time, (column) => column.notNull())
          .addColumn('duration_ms', 'integer', (column) => column.notNull())
          .addColumn('status_code', 'integer')
          .addColumn('response_body', 'text')
          .addColumn('error', 'text')
          .addPrimaryKeyConstraint('delivery_attempts_pk', ['delivery_id', 'attempt'])
          .execute();
      },
    },
    // The due deliveries in two lanes, each a partial index over pending rows only: fresh deliveries in the order
    // they fell due, and retries in the order they fall due again. Claims read each lane in index order (no sort,
    // however large a backlog of retries), and a delivery that is done leaves both, so neither grows with history.
    // The claim queries spell the lanes' conditions with literals, so both planners can match them to these indexes.
    '0004_delivery_lanes': {
      async up(db: Kysely<any>) {
        await db.schema.dropIndex('deliveries_due').execute();
        await db.schema
          .createIndex('deliveries_fresh')
          .on('deliveries')
          .column('next_attempt_at')
          .where(sql.ref('status'), '=', sql.lit('pending'))
          .where(sql.ref('attempts'), '=', sql.lit(0))
          .execute();
        await db.schema
          .createIndex('deliveries_retries')
          .on('deliveries')
          .column('next_attempt_at')
          .where(sql.ref('status'), '=', sql.lit('pending'))
          .where(sql.ref('attempts'), '>', sql.lit(0))
          .execute();
      },
    },
    // Opens a provider reports twice, under two types (ParsedEvent.echo): messages count the larger kind. Events
    // stored before are marked by the same lists as the adapters (as they stand here, at this migration), and the
    // opened messages' counts recomputed from their events.
    '0005_echo_opens': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('events').addColumn('echo', 'integer', (column) => column.notNull().defaultTo(0)).execute();
        for (const counter of ['main_opens', 'echo_opens', 'main_human_opens', 'echo_human_opens']) {
          await db.schema.alterTable('messages').addColumn(counter, 'integer', (column) => column.notNull().defaultTo(0)).execute();
        }
        const echoes: Record<string, string[]> = {
          sparkpost: ['initial_open', 'amp_initial_open'],
          brevo: ['unique_opened', 'uniqueOpened', 'first_opening', 'unique_proxy_open', 'uniqueProxyOpen'],
        };
        for (const [provider, types] of Object.entries(echoes)) {
          await db.updateTable('events').set({ echo: 1 }).where('provider', '=', provider).where('native_type', 'in', types).execute();
        }
        const opens = (echo: 0 | 1, humanOnly: boolean) =>
          sql`(select count(*) from events as e where e.environment_id = messages.environment_id and e.message_id = messages.id
                and e.status = 'opened' and e.echo = ${sql.lit(echo)}${humanOnly ? sql` and e.machine = 0` : sql``})`;
        await db
          .updateTable('messages')
          .set({ main_opens: opens(0, false), echo_opens: opens(1, false), main_human_opens: opens(0, true), echo_human_opens: opens(1, true) })
          .where('opens', '>', 0)
          .execute();
        const larger = dialect === 'postgres' ? 'greatest' : 'max';
        await db
          .updateTable('messages')
          .set({ human_opens: sql`${sql.raw(larger)}(main_human_opens, echo_human_opens)` })
          .where('opens', '>', 0)
          .execute();
        await db
          .updateTable('messages')
          .set({ opens: sql`human_opens + ${sql.raw(larger)}(main_opens - main_human_opens, echo_opens - echo_human_opens)` })
          .where('opens', '>', 0)
          .execute();
      },
    },
    // How an integration maps its provider's events (StatusMapping). Integrations made before read as `contract`,
    // the contract's own tables: the mapping every user of that platform relies on. Events already stored keep
    // the status they were given.
    '0006_status_mapping': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('integrations').addColumn('status_mapping', 'text', (column) => column.notNull().defaultTo('contract')).execute();
      },
    },
    // One provider id may be several messages (one per recipient), and an event naming no recipient goes to any of
    // them (correlate.ts), so the unique provider id and recipient no longer stop two concurrent transactions from
    // making two messages of one: one with no recipient, one with. The message created while no other had its
    // provider id is marked, and this index allows one mark per provider id: the second such insert conflicts and
    // its transaction runs again. Messages stored before carry no mark; only a provider id with none yet needs one.
    '0007_first_message_per_provider_id': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('messages').addColumn('first_with_provider_id', 'integer', (column) => column.notNull().defaultTo(0)).execute();
        await db.schema
          .createIndex('messages_first_by_provider_id')
          .on('messages')
          .columns(['integration_id', 'provider_message_id'])
          .unique()
          .where(sql.ref('first_with_provider_id'), '=', sql.lit(1))
          .execute();
      },
    },
    // First-party tracking (issue 10). Events say who observed them (`origin`: every event stored before came from a
    // provider) and, for Mailtrail's own hits, what kind of machine made them and their burst (other hits within 2 s).
    // Messages keep their first human open and click (recomputed here from the events stored before, whose machine
    // flags came from providers), how many first-party hits they have, and the earliest hit, delivered and sent event
    // that hits are measured from. Each environment gets at most one built-in first-party integration (provider
    // `mailtrail`), made on its first hit for a message it has never seen; the partial index keeps two concurrent
    // first hits from making two.
    '0008_first_party_hits': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('events').addColumn('origin', 'text', (column) => column.notNull().defaultTo('provider')).execute();
        await db.schema.alterTable('events').addColumn('machine_kind', 'text').execute();
        await db.schema.alterTable('messages').addColumn('first_human_opened_at', time).execute();
        await db.schema.alterTable('messages').addColumn('first_human_clicked_at', time).execute();
        await db.schema.alterTable('messages').addColumn('first_party_hits', 'integer', (column) => column.notNull().defaultTo(0)).execute();
        for (const moment of ['first_hit_at', 'first_delivered_at', 'first_sent_at']) await db.schema.alterTable('messages').addColumn(moment, time).execute();
        await db.schema.alterTable('events').addColumn('burst', 'integer').execute();
        const first = (status: string, humanOnly: boolean) =>
          sql`(select min(e.occurred_at) from events as e where e.environment_id = messages.environment_id and e.message_id = messages.id
                and e.status = ${sql.lit(status)} and e.ignored = 0${humanOnly ? sql` and e.machine = 0` : sql``})`;
        await db.updateTable('messages').set({ first_human_opened_at: first('opened', true) }).where('human_opens', '>', 0).execute();
        await db.updateTable('messages').set({ first_human_clicked_at: first('clicked', true) }).where('human_clicks', '>', 0).execute();
        await db.updateTable('messages').set({ first_delivered_at: first('delivered', false), first_sent_at: first('sent', false) }).where('event_count', '>', 0).execute();
        // The hits near a new hit whose burst count can still grow: saturated ones leave the index, so a message
        // fetched thousands of times costs each new hit a bounded amount of work (store/hit-verdicts.ts).
        await db.schema
          .createIndex('events_growing_bursts')
          .on('events')
          .columns(['environment_id', 'message_id', 'occurred_at'])
          // BURST_CAP of store/hit-verdicts.ts, as it was when this index was made
          .where(sql.ref('burst'), '<', sql.lit(10))
          .execute();
        await db.schema
          .createIndex('integrations_first_party')
          .on('integrations')
          .column('environment_id')
          .unique()
          .where(sql.ref('provider'), '=', sql.lit('mailtrail'))
          .execute();
      },
    },
    // An environment's own defaults for first-party tracking (PATCH /v1/environment): JSON of the switches it set,
    // null for none, so every environment made before keeps the server's defaults.
    '0009_environment_tracking': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('environments').addColumn('tracking', 'text').execute();
      },
    },
    // The latest first-party hit of each message (MessageState.lastHitAt), so most new hits need no burst query.
    '0010_last_hit_at': {
      async up(db: Kysely<any>) {
        await db.schema.alterTable('messages').addColumn('last_hit_at', time).execute();
        await db
          .updateTable('messages')
          .set({
            last_hit_at: sql`(select max(e.occurred_at) from events as e where e.environment_id = messages.environment_id and e.message_id = messages.id
              and e.origin = 'first-party' and e.status in ('opened', 'clicked') and e.ignored = 0)`,
          })
          .where('first_party_hits', '>', 0)
          .execute();
      },
    },
  };
}
