import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { migrations } from '../src/store/migrations.js';
import { integrationFromRow } from '../src/store/rows.js';
import type { IntegrationTable } from '../src/store/schema.js';
import { DIALECTS, POSTGRES_URL, dropSchema } from './helpers/stores.js';

/** A database of the dialect, migrated up to `target` only, with a way to run the rest. */
async function databaseAt(dialect: 'sqlite' | 'postgres', target: string) {
  let db: Kysely<any>;
  let cleanup: () => Promise<void>;
  let schema: string | undefined;
  if (dialect === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mailtrail-migrate-'));
    db = new Kysely<any>({ dialect: new SqliteDialect({ database: new Database(join(dir, 'mailtrail.db')) }) });
    cleanup = async () => {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    };
  } else {
    schema = `m_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: POSTGRES_URL, options: `-c search_path=${schema}` }) }) });
    cleanup = async () => {
      await db.destroy();
      await dropSchema(schema!);
    };
  }
  const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations(dialect) }, ...(schema ? { migrationTableSchema: schema } : {}) });
  const up = await migrator.migrateTo(target);
  if (up.error) throw up.error;
  return {
    db,
    cleanup,
    async latest() {
      const rest = await migrator.migrateToLatest();
      if (rest.error) throw rest.error;
    },
  };
}

for (const dialect of DIALECTS) {
  describe(`${dialect}: migrations over stored data`, () => {
    it('0005 marks the opens stored before it as echoes and counts each view once', async () => {
      const { db, cleanup, latest } = await databaseAt(dialect, '0004_delivery_lanes');
      try {
        const message = (id: string, provider: string, opens: number) => ({
          environment_id: 'env_1', id, integration_id: 'int_1', provider, provider_message_id: `pm-${id}`, recipient: 'r@example.com',
          tags: '[]', metadata: '{}', origin: 'provider', created_at: 1, updated_at: 1, opens, human_opens: opens, status: 'delivered',
        });
        // as stored before: every open counted, so a SparkPost view reported twice made 2
        await db.insertInto('messages').values([message('msg_sp', 'sparkpost', 3), message('msg_bv', 'brevo', 2), message('msg_sg', 'sendgrid', 2)]).execute();
        let n = 0;
        const open = (messageId: string, provider: string, nativeType: string, machine = 0) => ({
          id: `evt_${++n}`, environment_id: 'env_1', integration_id: 'int_1', message_id: messageId, provider, status: 'opened', native_type: nativeType,
          ignored: 0, occurred_at: 1000 + n, received_at: 2000, dedupe_key: `k${n}`, machine, raw: '{}',
        });
        await db
          .insertInto('events')
          .values([
            open('msg_sp', 'sparkpost', 'initial_open'), open('msg_sp', 'sparkpost', 'open'), open('msg_sp', 'sparkpost', 'initial_open'),
            open('msg_bv', 'brevo', 'unique_opened'), open('msg_bv', 'brevo', 'opened'),
            // SendGrid has one open type: nothing changes
            open('msg_sg', 'sendgrid', 'open'), open('msg_sg', 'sendgrid', 'open', 1),
          ])
          .execute();
        await latest();

        const rows = await db.selectFrom('messages').select(['id', 'opens', 'human_opens', 'main_opens', 'echo_opens']).orderBy('id').execute();
        expect(rows.map((row) => ({ ...row, opens: Number(row.opens), human_opens: Number(row.human_opens), main_opens: Number(row.main_opens), echo_opens: Number(row.echo_opens) }))).toEqual([
          { id: 'msg_bv', opens: 1, human_opens: 1, main_opens: 1, echo_opens: 1 },
          // one view both ways and one clipped view
          { id: 'msg_sg', opens: 2, human_opens: 1, main_opens: 2, echo_opens: 0 },
          { id: 'msg_sp', opens: 2, human_opens: 2, main_opens: 1, echo_opens: 2 },
        ]);
        const echoes = await db.selectFrom('events').select(['native_type', 'echo']).orderBy('id').execute();
        expect(echoes.filter((row) => Number(row.echo) === 1).map((row) => row.native_type).sort()).toEqual(['initial_open', 'initial_open', 'unique_opened']);
        expect(Number((await sql<{ n: number | string }>`select count(*) as n from events where echo = 0`.execute(db)).rows[0]!.n)).toBe(4);
      } finally {
        await cleanup();
      }
    });

    it('0006 gives every integration made before it the contract status mapping', async () => {
      const { db, cleanup, latest } = await databaseAt(dialect, '0005_echo_opens');
      try {
        await db.insertInto('environments').values({ id: 'env_1', name: 'A', created_at: 1 }).execute();
        const integration = (id: string, provider: string) => ({
          id, environment_id: 'env_1', provider, name: provider, activity_tracking: 1, allow_unsigned: 0, signing_key_enc: null, credentials_enc: null, settings: '{}', created_at: 1, updated_at: 1,
        });
        await db.insertInto('integrations').values([integration('int_mg', 'mailgun'), integration('int_sg', 'sendgrid')]).execute();
        await latest();

        const rows = await db.selectFrom('integrations').selectAll().orderBy('id').execute();
        expect(rows.map((row) => [row.id, row.status_mapping])).toEqual([
          ['int_mg', 'contract'],
          ['int_sg', 'contract'],
        ]);
        expect(rows.map((row) => integrationFromRow(row as IntegrationTable).statusMapping)).toEqual(['contract', 'contract']);
        // and a new one without the column named gets it too
        await db.insertInto('integrations').values(integration('int_new', 'resend')).execute();
        expect((await db.selectFrom('integrations').select('status_mapping').where('id', '=', 'int_new').executeTakeFirstOrThrow()).status_mapping).toBe('contract');
      } finally {
        await cleanup();
      }
    });

    it('0007 leaves the messages stored before unmarked and allows one first message per provider id', async () => {
      const { db, cleanup, latest } = await databaseAt(dialect, '0006_status_mapping');
      try {
        const message = (id: string, providerMessageId: string, recipient: string) => ({
          environment_id: 'env_1', id, integration_id: 'int_1', provider: 'generic', provider_message_id: providerMessageId, recipient,
          tags: '[]', metadata: '{}', origin: 'provider', created_at: 1, updated_at: 1,
        });
        // one provider id to two recipients, and one with a recipient-less message beside a recipient's
        await db.insertInto('messages').values([message('m1', 'pm-1', 'ada@example.com'), message('m2', 'pm-1', 'bob@example.com'), message('m3', 'pm-2', ''), message('m4', 'pm-2', 'ada@example.com')]).execute();
        await latest();

        const marks = await db.selectFrom('messages').select(['id', 'first_with_provider_id']).orderBy('id').execute();
        expect(marks.map((row) => Number(row.first_with_provider_id))).toEqual([0, 0, 0, 0]);
        await db.insertInto('messages').values({ ...message('m5', 'pm-3', ''), first_with_provider_id: 1 }).execute();
        await expect(db.insertInto('messages').values({ ...message('m6', 'pm-3', 'ada@example.com'), first_with_provider_id: 1 }).execute()).rejects.toThrow(/unique/i);
        await db.insertInto('messages').values({ ...message('m6', 'pm-3', 'ada@example.com'), first_with_provider_id: 0 }).execute();
      } finally {
        await cleanup();
      }
    });

    it('0008 marks every event stored before it as a provider event, backfills the first human open and click, and allows one first-party integration', async () => {
      const { db, cleanup, latest } = await databaseAt(dialect, '0007_first_message_per_provider_id');
      try {
        await db.insertInto('environments').values({ id: 'env_1', name: 'A', created_at: 1 }).execute();
        await db
          .insertInto('messages')
          .values({
            environment_id: 'env_1', id: 'msg_1', integration_id: 'int_1', provider: 'sendgrid', provider_message_id: 'pm-1', recipient: 'r@example.com',
            tags: '[]', metadata: '{}', origin: 'provider', created_at: 1, updated_at: 1, opens: 2, human_opens: 1, clicks: 1, human_clicks: 0, status: 'delivered', event_count: 4,
          })
          .execute();
        let n = 0;
        const event = (status: string, occurredAt: number, machine: number) => ({
          id: `evt_${++n}`, environment_id: 'env_1', integration_id: 'int_1', message_id: 'msg_1', provider: 'sendgrid', status, native_type: status,
          ignored: 0, occurred_at: occurredAt, received_at: 5000, dedupe_key: `k${n}`, machine, raw: '{}',
        });
        // a privacy-proxy open first (SendGrid's sg_machine_open), then the reader's; a machine click only
        await db.insertInto('events').values([event('opened', 1000, 1), event('opened', 3000, 0), event('clicked', 2000, 1), event('delivered', 500, 0)]).execute();
        await latest();

        const events = await db.selectFrom('events').select(['origin', 'machine_kind', 'burst']).execute();
        expect(events).toEqual(Array.from({ length: 4 }, () => ({ origin: 'provider', machine_kind: null, burst: null })));
        const message = await db
          .selectFrom('messages')
          .select(['first_human_opened_at', 'first_human_clicked_at', 'first_party_hits', 'first_hit_at', 'first_delivered_at', 'first_sent_at'])
          .executeTakeFirstOrThrow();
        const number = (value: unknown) => (value === null ? null : Number(value));
        expect(Object.fromEntries(Object.entries(message).map(([key, value]) => [key, number(value)]))).toEqual({
          first_human_opened_at: 3000,
          first_human_clicked_at: null,
          first_party_hits: 0,
          first_hit_at: null,
          first_delivered_at: 500,
          first_sent_at: null,
        });

        const integration = (id: string, provider: string) => ({
          id, environment_id: 'env_1', provider, name: provider, activity_tracking: 1, allow_unsigned: 0, settings: '{}', created_at: 1, updated_at: 1,
        });
        await db.insertInto('integrations').values([integration('int_fp', 'mailtrail'), integration('int_a', 'sendgrid'), integration('int_b', 'sendgrid')]).execute();
        await expect(db.insertInto('integrations').values(integration('int_fp2', 'mailtrail')).execute()).rejects.toThrow(/unique/i);
      } finally {
        await cleanup();
      }
    });
  });
}
