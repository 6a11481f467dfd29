import { Migrator, sql, type Kysely, type Transaction } from 'kysely';
import type { NormalizedEvent } from '../core/event.js';
import { newId } from '../core/ids.js';
import { reduceMessageState } from '../core/message-state.js';
import { DEFAULT_STATUS_MAPPING } from '../core/status-mapping.js';
import { anchorsOf, FIRST_PARTY_PROVIDER, reviseAllHits } from './hit-verdicts.js';
import { decodeCursor, keysetPage } from './cursor.js';
import { migrations, type Dialect } from './migrations.js';
import { deliveryFromRow, endpointFromRow, endpointToRow, eventFromRow, integrationFromRow, integrationToRow, messageFromRow, stateEventFromRow, stateToColumns } from './rows.js';
import type { Database, EnvironmentTable, MessageRow } from './schema.js';
import type {
  AttemptRecord,
  ClaimInput,
  ClaimedDelivery,
  Delivery,
  DeliveryAttempt,
  DeliveryFilter,
  Environment,
  EnvironmentTracking,
  EventFilter,
  IdempotencyClaim,
  IngestBatch,
  IngestResult,
  Integration,
  IntegrationNotice,
  NonceClaim,
  Message,
  MessageFilter,
  NewMessage,
  Page,
  RegisterResult,
  WebhookEndpoint,
  Store,
} from './types.js';

const DAY = 24 * 60 * 60 * 1000;
/** An in-flight idempotency key whose request died is free again after this long. */
const IN_FLIGHT_LEASE = 60 * 1000;

export interface KyselyStoreOptions {
  dialect: Dialect;
  db: Kysely<Database>;
  /** Runs `work` in one transaction; dialects may retry it on a deadlock. */
  transaction?: <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;
  /** The ingest transaction, which each dialect runs its own way (see sqlite.ts and postgres.ts). */
  ingest: (batch: IngestBatch) => Promise<IngestResult[]>;
  /** Runs before migrations (PostgreSQL creates its schema). */
  beforeMigrate?: () => Promise<void>;
  /** The outbox's claims, attempt records and postponements, each dialect's own way (sqlite/outbox.ts, postgres/outbox.ts). */
  outbox: OutboxBookkeeping;
  /** Closes what the dialect opened besides `db`. */
  close?: () => Promise<void>;
}

export interface OutboxBookkeeping {
  claim: Store['claimDeliveries'];
  record: Store['recordAttempts'];
  postpone: Store['postponeDelivery'];
}

/** The Store on Kysely; dialect differences are limited to what the options inject. */
export class KyselyStore implements Store {
  readonly dialect: Dialect;
  protected readonly db: Kysely<Database>;
  private readonly options: KyselyStoreOptions;

  constructor(options: KyselyStoreOptions) {
    this.options = options;
    this.dialect = options.dialect;
    this.db = options.db;
  }

  private transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.options.transaction ? this.options.transaction(work) : this.db.transaction().execute(work);
  }

  async migrate(): Promise<void> {
    await this.options.beforeMigrate?.();
    // On PostgreSQL the migrator must look for its tables in our schema only, not in any schema of the database.
    const schema = this.dialect === 'postgres' ? (await sql<{ schema: string }>`select current_schema() as schema`.execute(this.db)).rows[0]?.schema : undefined;
    const migrator = new Migrator({
      db: this.db,
      provider: { getMigrations: async () => migrations(this.dialect) },
      ...(schema ? { migrationTableSchema: schema } : {}),
    });
    const { error } = await migrator.migrateToLatest();
    if (error) throw error;
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async close(): Promise<void> {
    await this.db.destroy();
    await this.options.close?.();
  }

  async createEnvironment(input: { id: string; name: string; createdAt: number }): Promise<Environment> {
    await this.db.insertInto('environments').values({ id: input.id, name: input.name, created_at: input.createdAt }).execute();
    return input;
  }

  async listEnvironments(): Promise<Environment[]> {
    const rows = await this.db.selectFrom('environments').selectAll().orderBy('created_at').orderBy('id').execute();
    return rows.map(environmentFromRow);
  }

  async getEnvironment(id: string): Promise<Environment | null> {
    const row = await this.db.selectFrom('environments').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? environmentFromRow(row) : null;
  }

  setEnvironmentTracking(id: string, tracking: EnvironmentTracking): Promise<Environment | null> {
    return this.transaction(async (trx) => {
      const row = await trx.selectFrom('environments').selectAll().where('id', '=', id).$if(this.dialect === 'postgres', (query) => query.forUpdate()).executeTakeFirst();
      if (!row) return null;
      const given = Object.fromEntries(Object.entries(tracking).filter(([, value]) => typeof value === 'boolean'));
      const next = JSON.stringify({ ...environmentFromRow(row).tracking, ...given });
      await trx.updateTable('environments').set({ tracking: next }).where('id', '=', id).execute();
      return environmentFromRow({ ...row, tracking: next });
    });
  }

  async createApiKey(input: { id: string; environmentId: string; name: string; keyHash: string; keyPrefix: string; createdAt: number }): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({
        id: input.id,
        environment_id: input.environmentId,
        name: input.name,
        key_hash: input.keyHash,
        key_prefix: input.keyPrefix,
        created_at: input.createdAt,
      })
      .execute();
  }

  async findEnvironmentByKeyHash(keyHash: string): Promise<string | null> {
    const row = await this.db.selectFrom('api_keys').select('environment_id').where('key_hash', '=', keyHash).executeTakeFirst();
    return row?.environment_id ?? null;
  }

  async createIntegration(integration: Integration): Promise<Integration> {
    await this.db.insertInto('integrations').values(integrationToRow(integration)).execute();
    return integration;
  }

  async getIntegration(environmentId: string, id: string): Promise<Integration | null> {
    const row = await this.db.selectFrom('integrations').selectAll().where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
    return row ? integrationFromRow(row) : null;
  }

  async listIntegrations(environmentId: string): Promise<Integration[]> {
    const rows = await this.db.selectFrom('integrations').selectAll().where('environment_id', '=', environmentId).orderBy('created_at').orderBy('id').execute();
    return rows.map(integrationFromRow);
  }

  async updateIntegration(
    environmentId: string,
    id: string,
    patch: Partial<Omit<Integration, 'id' | 'environmentId' | 'provider' | 'createdAt'>>,
  ): Promise<Integration | null> {
    const current = await this.getIntegration(environmentId, id);
    if (!current) return null;
    const next = integrationToRow({ ...current, ...patch });
    await this.db
      .updateTable('integrations')
      .set({
        name: next.name,
        activity_tracking: next.activity_tracking,
        allow_unsigned: next.allow_unsigned,
        signing_key_enc: next.signing_key_enc,
        credentials_enc: next.credentials_enc,
        settings: next.settings,
        status_mapping: next.status_mapping,
        updated_at: next.updated_at,
      })
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .execute();
    return integrationFromRow(next);
  }

  async deleteIntegration(environmentId: string, id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('integrations').where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  registerMessage(input: NewMessage, now: number): Promise<RegisterResult> {
    return this.transaction(async (trx) => {
      const forUpdate = this.dialect === 'postgres';
      // Registered before it is sent (to be instrumented), a message has no provider id yet: it matches no other.
      const providerMessageId = input.providerMessageId ?? null;
      const byId = input.id ? await selectMessage(trx, input.environmentId, input.id, forUpdate) : null;
      const ofProviderId = trx
        .selectFrom('messages')
        .where('environment_id', '=', input.environmentId)
        .where('integration_id', '=', input.integrationId)
        .where('provider_message_id', '=', providerMessageId);
      const exact = await ofProviderId.selectAll().where('recipient', '=', input.recipient).$if(forUpdate, (query) => query.forUpdate()).executeTakeFirst();
      // With no message for this recipient, the registration takes the one that events naming no recipient made,
      // when it is the only message of the provider id (see correlate.ts); beside others, whose it is would be a guess.
      const siblings = exact ? [] : await ofProviderId.select(['id', 'recipient']).limit(2).execute();
      const recipientless =
        siblings.length === 1 && siblings[0]!.recipient === ''
          ? await ofProviderId.selectAll().where('id', '=', siblings[0]!.id).where('recipient', '=', '').$if(forUpdate, (query) => query.forUpdate()).executeTakeFirst()
          : undefined;
      const byProviderKey = exact ?? recipientless;

      const sameMessage = (row: MessageRow) =>
        row.integration_id === input.integrationId && row.provider_message_id === providerMessageId && row.recipient === input.recipient;
      // A message a first-party hit created (instrumented, never registered) is taken over by its registration, as
      // a provider-created one is: it moves to the registration's integration with its hits (see firstParty below).
      // A patch (PATCH /v1/messages/:id) goes through here to merge what arrived for its new provider id.
      if (byId && !input.patch && (byId.origin === 'api' || (byId.origin !== 'first-party' && byId.integration_id !== input.integrationId))) {
        return sameMessage(byId) ? { outcome: 'unchanged', message: messageFromRow(byId) } : { outcome: 'conflict', reason: `message ${input.id} is already registered` };
      }
      if (byProviderKey?.origin === 'api' && !(input.patch && byProviderKey.id === input.id)) {
        return !input.id || input.id === byProviderKey.id
          ? { outcome: 'unchanged', message: messageFromRow(byProviderKey) }
          : { outcome: 'conflict', reason: `provider message ${input.providerMessageId} for ${input.recipient} is already registered as ${byProviderKey.id}` };
      }

      // Whatever exists now was created from this integration's events; the registration takes it over. Both
      // rows are locked (PostgreSQL); an ingest waiting for a row removed here reruns its batch (see runIngest).
      const id = input.id ?? byProviderKey?.id ?? newId('msg', now);
      const target = byId ?? (byProviderKey?.id === id ? byProviderKey : undefined);
      const absorbed = byProviderKey && byProviderKey.id !== id ? byProviderKey : undefined;
      // The mark of a provider id's first message (migration 0007) stays with the message that had it, and a
      // registration that found no other message of its provider id makes the first one.
      const marked = [target, absorbed].some((row) => row?.provider_message_id === providerMessageId && Number(row.first_with_provider_id) === 1);
      const alone = !exact && siblings.every((row) => row.id === target?.id || row.id === absorbed?.id);
      if (absorbed) {
        await trx.updateTable('events').set({ message_id: id }).where('environment_id', '=', input.environmentId).where('message_id', '=', absorbed.id).execute();
        await trx.deleteFrom('message_tags').where('environment_id', '=', input.environmentId).where('message_id', '=', absorbed.id).execute();
        await trx.deleteFrom('messages').where('environment_id', '=', input.environmentId).where('id', '=', absorbed.id).execute();
      }
      if (target && target.origin === 'first-party' && target.integration_id !== input.integrationId) {
        // A hit is stored under its message's integration; dedupe keys of hits are unique ids, so none collides.
        await trx
          .updateTable('events')
          .set({ integration_id: input.integrationId })
          .where('environment_id', '=', input.environmentId)
          .where('message_id', '=', id)
          .where('origin', '=', 'first-party')
          .execute();
      }
      const events = await trx
        .selectFrom('events')
        .select(['id', 'status', 'occurred_at', 'machine', 'machine_kind', 'machine_reason', 'echo', 'origin', 'bounce_type', 'reason', 'raw', 'user_agent', 'burst'])
        .where('environment_id', '=', input.environmentId)
        .where('message_id', '=', id)
        .where('ignored', '=', 0)
        .execute();
      // Merged events (a provider's delivered, the hits of both messages) change the hits' context: every hit is
      // classified again, as registered (origin api) from now on.
      const anchors = anchorsOf(reduceMessageState(events.map(stateEventFromRow)), { origin: 'api', created_at: target ? Number(target.created_at) : now });
      for (const { row } of reviseAllHits(events, anchors)) {
        await trx
          .updateTable('events')
          .set({ burst: row.burst, machine: row.machine, machine_kind: row.machine_kind, machine_reason: row.machine_reason })
          .where('id', '=', row.id)
          .execute();
      }
      const tags = [...new Set(input.tags ?? [])];
      const fields = {
        integration_id: input.integrationId,
        provider: input.provider,
        provider_message_id: providerMessageId,
        recipient: input.recipient,
        from_address: input.from ?? null,
        subject: input.subject ?? null,
        tags: JSON.stringify(tags),
        metadata: JSON.stringify(input.metadata ?? {}),
        workflow_run_id: input.workflowRunId ?? null,
        step_run_id: input.stepRunId ?? null,
        origin: 'api',
        updated_at: now,
        first_with_provider_id: (marked || alone) && providerMessageId !== null ? 1 : 0,
        ...stateToColumns(reduceMessageState(events.map(stateEventFromRow))),
      };
      // Updated in place, never deleted and re-inserted: a concurrent ingest locking this row must still find it.
      if (target) {
        await trx.updateTable('messages').set(fields).where('environment_id', '=', input.environmentId).where('id', '=', id).execute();
        await trx.deleteFrom('message_tags').where('environment_id', '=', input.environmentId).where('message_id', '=', id).execute();
      } else {
        await trx.insertInto('messages').values({ environment_id: input.environmentId, id, created_at: now, ...fields }).execute();
      }
      if (tags.length > 0) {
        await trx
          .insertInto('message_tags')
          .values(tags.map((tag) => ({ environment_id: input.environmentId, message_id: id, tag })))
          .execute();
      }
      const row: MessageRow = { environment_id: input.environmentId, id, created_at: target ? Number(target.created_at) : now, ...fields };
      return { outcome: target || absorbed ? 'merged' : 'created', message: messageFromRow(row) };
    });
  }

  async getMessage(environmentId: string, id: string): Promise<Message | null> {
    const row = await selectMessage(this.db, environmentId, id, false);
    return row ? messageFromRow(row) : null;
  }

  async listMessages(environmentId: string, filter: MessageFilter): Promise<Page<Message>> {
    const cursor = filter.cursor ? decodeCursor(filter.cursor) : null;
    const like = filter.q ? `%${filter.q.toLowerCase().replace(/[\\%_]/g, (char) => `\\${char}`)}%` : null;
    const rows = await this.db
      .selectFrom('messages')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .$if(filter.status !== undefined, (query) => query.where('status', '=', filter.status!))
      .$if(filter.recipient !== undefined, (query) => query.where('recipient', '=', filter.recipient!.toLowerCase()))
      .$if(filter.integrationId !== undefined, (query) => query.where('integration_id', '=', filter.integrationId!))
      .$if(filter.providerMessageId !== undefined, (query) => query.where('provider_message_id', '=', filter.providerMessageId!))
      .$if(filter.from !== undefined, (query) => query.where('created_at', '>=', filter.from!))
      .$if(filter.to !== undefined, (query) => query.where('created_at', '<', filter.to!))
      .$if(filter.tag !== undefined, (query) =>
        query.where(({ exists, selectFrom }) =>
          exists(
            selectFrom('message_tags')
              .select('message_tags.tag')
              .whereRef('message_tags.environment_id', '=', 'messages.environment_id')
              .whereRef('message_tags.message_id', '=', 'messages.id')
              .where('message_tags.tag', '=', filter.tag!),
          ),
        ),
      )
      .$if(like !== null, (query) =>
        query.where((eb) =>
          eb.or([
            eb('id', '=', filter.q!),
            eb('provider_message_id', '=', filter.q!),
            sql<boolean>`lower(recipient) like ${like} escape '\\'`,
            sql<boolean>`lower(coalesce(subject, '')) like ${like} escape '\\'`,
          ]),
        ),
      )
      .$if(cursor !== null, (query) =>
        query.where((eb) => eb.or([eb('created_at', '<', cursor!.at), eb.and([eb('created_at', '=', cursor!.at), eb('id', '<', cursor!.id)])])),
      )
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    return keysetPage(rows, filter.limit, (row) => Number(row.created_at), messageFromRow);
  }

  async listMessageEvents(environmentId: string, messageId: string): Promise<NormalizedEvent[]> {
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('message_id', '=', messageId)
      .orderBy('occurred_at')
      .orderBy('id')
      .execute();
    return rows.map(eventFromRow);
  }

  async listEvents(environmentId: string, filter: EventFilter): Promise<Page<NormalizedEvent>> {
    const cursor = filter.cursor ? decodeCursor(filter.cursor) : null;
    const rows = await this.db
      .selectFrom('events')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .$if(filter.status !== undefined, (query) => query.where('status', '=', filter.status!))
      .$if(filter.recipient !== undefined, (query) => query.where('recipient', '=', filter.recipient!.toLowerCase()))
      .$if(filter.integrationId !== undefined, (query) => query.where('integration_id', '=', filter.integrationId!))
      .$if(filter.providerMessageId !== undefined, (query) => query.where('provider_message_id', '=', filter.providerMessageId!))
      .$if(filter.messageId !== undefined, (query) => query.where('message_id', '=', filter.messageId!))
      .$if(filter.nativeType !== undefined, (query) => query.where('native_type', '=', filter.nativeType!))
      .$if(filter.includeIgnored === false, (query) => query.where('ignored', '=', 0))
      .$if(filter.from !== undefined, (query) => query.where('occurred_at', '>=', filter.from!))
      .$if(filter.to !== undefined, (query) => query.where('occurred_at', '<', filter.to!))
      .$if(cursor !== null, (query) =>
        query.where((eb) => eb.or([eb('occurred_at', '<', cursor!.at), eb.and([eb('occurred_at', '=', cursor!.at), eb('id', '<', cursor!.id)])])),
      )
      .orderBy('occurred_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    return keysetPage(rows, filter.limit, (row) => Number(row.occurred_at), eventFromRow);
  }

  ingest(batch: IngestBatch): Promise<IngestResult[]> {
    return this.options.ingest(batch);
  }

  async firstPartyIntegration(environmentId: string, now: number): Promise<Integration | null> {
    const find = () => this.db.selectFrom('integrations').selectAll().where('environment_id', '=', environmentId).where('provider', '=', FIRST_PARTY_PROVIDER).executeTakeFirst();
    let row = await find();
    if (!row) {
      if (!(await this.getEnvironment(environmentId))) return null;
      // Two first hits at once both insert; the partial unique index (migration 0008) keeps one, the other reads it.
      await this.db
        .insertInto('integrations')
        .values(
          integrationToRow({
            id: newId('int', now),
            environmentId,
            provider: FIRST_PARTY_PROVIDER,
            name: 'Mailtrail first-party tracking',
            activityTracking: true,
            allowUnsigned: false,
            signingKeyEnc: null,
            credentialsEnc: null,
            settings: {},
            statusMapping: DEFAULT_STATUS_MAPPING,
            createdAt: now,
            updatedAt: now,
          }),
        )
        .onConflict((conflict) => conflict.doNothing())
        .execute();
      row = await find();
    }
    return row ? integrationFromRow(row) : null;
  }

  claimIdempotencyKey(input: { environmentId: string; integrationId: string; key: string; bodyHash: string; now: number }): Promise<IdempotencyClaim> {
    return this.transaction(async (trx) => {
      const where = trx
        .selectFrom('idempotency_keys')
        .selectAll()
        .where('environment_id', '=', input.environmentId)
        .where('integration_id', '=', input.integrationId)
        .where('key', '=', input.key);
      let row = await where.$if(this.dialect === 'postgres', (query) => query.forUpdate()).executeTakeFirst();
      const expired = row && (Number(row.created_at) < input.now - DAY || (row.state === 'in_flight' && Number(row.created_at) < input.now - IN_FLIGHT_LEASE));
      if (row && expired) {
        await trx
          .deleteFrom('idempotency_keys')
          .where('environment_id', '=', input.environmentId)
          .where('integration_id', '=', input.integrationId)
          .where('key', '=', input.key)
          .execute();
        row = undefined;
      }
      if (!row) {
        const inserted = await trx
          .insertInto('idempotency_keys')
          .values({
            environment_id: input.environmentId,
            integration_id: input.integrationId,
            key: input.key,
            body_hash: input.bodyHash,
            state: 'in_flight',
            response: null,
            created_at: input.now,
          })
          .onConflict((conflict) => conflict.doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) return { state: 'claimed' };
        row = await where.executeTakeFirst();
        if (!row) return { state: 'in_flight' };
      }
      if (row.body_hash !== input.bodyHash) return { state: 'mismatch' };
      if (row.state === 'done' && row.response !== null) return { state: 'replay', response: row.response };
      return { state: 'in_flight' };
    });
  }

  async completeIdempotencyKey(input: { environmentId: string; integrationId: string; key: string; response: string }): Promise<void> {
    await this.db
      .updateTable('idempotency_keys')
      .set({ state: 'done', response: input.response })
      .where('environment_id', '=', input.environmentId)
      .where('integration_id', '=', input.integrationId)
      .where('key', '=', input.key)
      .execute();
  }

  async releaseIdempotencyKey(input: { environmentId: string; integrationId: string; key: string }): Promise<void> {
    await this.db
      .deleteFrom('idempotency_keys')
      .where('environment_id', '=', input.environmentId)
      .where('integration_id', '=', input.integrationId)
      .where('key', '=', input.key)
      .where('state', '=', 'in_flight')
      .execute();
  }

  async pruneIdempotencyKeys(olderThan: number): Promise<number> {
    const result = await this.db.deleteFrom('idempotency_keys').where('created_at', '<', olderThan).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async claimNonce(input: { scope: string; nonce: string; bodyHash: string; now: number }): Promise<NonceClaim> {
    const inserted = await this.db
      .insertInto('inbound_nonces')
      .values({ scope: input.scope, nonce: input.nonce, body_hash: input.bodyHash, created_at: input.now })
      .onConflict((conflict) => conflict.doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) > 0) return 'new';
    const row = await this.db
      .selectFrom('inbound_nonces')
      .select('body_hash')
      .where('scope', '=', input.scope)
      .where('nonce', '=', input.nonce)
      .executeTakeFirst();
    // Pruned between the two statements: the nonce is older than any window that accepts it.
    return row?.body_hash === input.bodyHash ? 'retry' : 'replay';
  }

  async pruneNonces(olderThan: number): Promise<number> {
    const result = await this.db.deleteFrom('inbound_nonces').where('created_at', '<', olderThan).executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  async createEndpoint(endpoint: WebhookEndpoint): Promise<WebhookEndpoint> {
    await this.db.insertInto('webhook_endpoints').values(endpointToRow(endpoint)).execute();
    return endpoint;
  }

  async getEndpoint(environmentId: string, id: string): Promise<WebhookEndpoint | null> {
    const row = await this.db.selectFrom('webhook_endpoints').selectAll().where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
    return row ? endpointFromRow(row) : null;
  }

  async listEndpoints(environmentId: string): Promise<WebhookEndpoint[]> {
    const rows = await this.db.selectFrom('webhook_endpoints').selectAll().where('environment_id', '=', environmentId).orderBy('created_at').orderBy('id').execute();
    return rows.map(endpointFromRow);
  }

  async updateEndpoint(
    environmentId: string,
    id: string,
    patch: Partial<Omit<WebhookEndpoint, 'id' | 'environmentId' | 'createdAt'>>,
  ): Promise<WebhookEndpoint | null> {
    const current = await this.getEndpoint(environmentId, id);
    if (!current) return null;
    const next = endpointToRow({ ...current, ...patch });
    // Only the columns of the patch: a concurrent change of another column (a secret rotation while the worker
    // records an endpoint's health) is not overwritten with what this caller read before.
    const columns = Object.fromEntries(
      Object.keys(patch).map((key) => {
        const column = key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`) as keyof typeof next;
        return [column, next[column]];
      }),
    );
    const result = await this.db.updateTable('webhook_endpoints').set(columns).where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0 ? ((await this.getEndpoint(environmentId, id)) ?? null) : null;
  }

  async deleteEndpoint(environmentId: string, id: string): Promise<boolean> {
    return this.transaction(async (trx) => {
      const result = await trx.deleteFrom('webhook_endpoints').where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
      if (Number(result.numDeletedRows) === 0) return false;
      // Nothing is sent to an endpoint that no longer exists; what was sent stays recorded until then.
      const pending = trx.selectFrom('deliveries').select('id').where('environment_id', '=', environmentId).where('endpoint_id', '=', id).where('status', '=', 'pending');
      await trx.deleteFrom('delivery_attempts').where('delivery_id', 'in', pending).execute();
      await trx.deleteFrom('deliveries').where('environment_id', '=', environmentId).where('endpoint_id', '=', id).where('status', '=', 'pending').execute();
      return true;
    });
  }

  async listDeliveries(environmentId: string, endpointId: string, filter: DeliveryFilter): Promise<Page<Delivery>> {
    const cursor = filter.cursor ? decodeCursor(filter.cursor) : null;
    const rows = await this.db
      .selectFrom('deliveries')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('endpoint_id', '=', endpointId)
      .$if(filter.status !== undefined, (query) => query.where('status', '=', filter.status!))
      .$if(filter.eventType !== undefined, (query) => query.where('event_type', '=', filter.eventType!))
      .$if(filter.from !== undefined, (query) => query.where('created_at', '>=', filter.from!))
      .$if(filter.to !== undefined, (query) => query.where('created_at', '<', filter.to!))
      .$if(cursor !== null, (query) =>
        query.where((eb) => eb.or([eb('created_at', '<', cursor!.at), eb.and([eb('created_at', '=', cursor!.at), eb('id', '<', cursor!.id)])])),
      )
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit + 1)
      .execute();
    return keysetPage(rows, filter.limit, (row) => Number(row.created_at), deliveryFromRow);
  }

  async getDelivery(environmentId: string, id: string): Promise<{ delivery: Delivery; attempts: DeliveryAttempt[] } | null> {
    const row = await this.db.selectFrom('deliveries').selectAll().where('environment_id', '=', environmentId).where('id', '=', id).executeTakeFirst();
    if (!row) return null;
    const attempts = await this.db.selectFrom('delivery_attempts').selectAll().where('delivery_id', '=', id).orderBy('attempt').execute();
    return {
      delivery: deliveryFromRow(row),
      attempts: attempts.map((attempt) => ({
        deliveryId: attempt.delivery_id,
        attempt: Number(attempt.attempt),
        startedAt: Number(attempt.started_at),
        durationMs: Number(attempt.duration_ms),
        statusCode: attempt.status_code === null ? null : Number(attempt.status_code),
        responseBody: attempt.response_body,
        error: attempt.error,
      })),
    };
  }

  claimDeliveries(input: ClaimInput): Promise<ClaimedDelivery[]> {
    return this.options.outbox.claim(input);
  }

  recordAttempts(records: AttemptRecord[], now: number): Promise<boolean[]> {
    return this.options.outbox.record(records, now);
  }

  async retryDelivery(environmentId: string, id: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: now, lease_until: null, updated_at: now })
      .where('environment_id', '=', environmentId)
      .where('id', '=', id)
      .where('status', '!=', 'pending')
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async recoverDeliveries(environmentId: string, endpointId: string, since: number, now: number): Promise<number> {
    const result = await this.db
      .updateTable('deliveries')
      .set({ status: 'pending', next_attempt_at: now, lease_until: null, updated_at: now })
      .where('environment_id', '=', environmentId)
      .where('endpoint_id', '=', endpointId)
      .where('status', '=', 'failed')
      .where('created_at', '>=', since)
      .executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async outboxStats(now: number): Promise<{ due: number; oldestDueAt: number | null }> {
    // one lane at a time, each over its partial index
    const lane = (fresh: boolean) =>
      this.db
        .selectFrom('deliveries')
        .select((eb) => [eb.fn.countAll().as('due'), eb.fn.min('next_attempt_at').as('oldest')])
        .where('status', '=', sql.lit('pending'))
        .where('attempts', fresh ? '=' : '>', sql.lit(0))
        .where('next_attempt_at', '<=', now)
        .executeTakeFirst();
    const lanes = await Promise.all([lane(true), lane(false)]);
    const oldest = lanes.flatMap((row) => (row?.oldest === null || row?.oldest === undefined ? [] : [Number(row.oldest)]));
    return { due: lanes.reduce((sum, row) => sum + Number(row?.due ?? 0), 0), oldestDueAt: oldest.length > 0 ? Math.min(...oldest) : null };
  }

  postponeDelivery(id: string, leaseUntil: number, until: number): Promise<void> {
    return this.options.outbox.postpone(id, leaseUntil, until);
  }

  async addIntegrationNotice(notice: IntegrationNotice): Promise<void> {
    await this.db
      .insertInto('integration_notices')
      .values({
        id: notice.id,
        environment_id: notice.environmentId,
        integration_id: notice.integrationId,
        kind: notice.kind,
        topic: notice.topic,
        detail: notice.detail,
        created_at: notice.createdAt,
      })
      .execute();
  }

  async listIntegrationNotices(environmentId: string, integrationId: string, limit: number): Promise<IntegrationNotice[]> {
    const rows = await this.db
      .selectFrom('integration_notices')
      .selectAll()
      .where('environment_id', '=', environmentId)
      .where('integration_id', '=', integrationId)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({
      id: row.id,
      environmentId: row.environment_id,
      integrationId: row.integration_id,
      kind: row.kind,
      topic: row.topic,
      detail: row.detail,
      createdAt: Number(row.created_at),
    }));
  }
}

function environmentFromRow(row: EnvironmentTable): Environment {
  return { id: row.id, name: row.name, createdAt: Number(row.created_at), tracking: row.tracking ? (JSON.parse(row.tracking) as EnvironmentTracking) : {} };
}

async function selectMessage(db: Kysely<Database> | Transaction<Database>, environmentId: string, id: string, forUpdate: boolean) {
  return db
    .selectFrom('messages')
    .selectAll()
    .where('environment_id', '=', environmentId)
    .where('id', '=', id)
    .$if(forUpdate, (query) => query.forUpdate())
    .executeTakeFirst();
}
