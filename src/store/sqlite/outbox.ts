import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { OutboxBookkeeping } from '../kysely-store.js';
import { deliveryFromRow, endpointFromRow, eventFromRow, messageFromRow } from '../rows.js';
import type { Database, DeliveryRow, EventRow, MessageRow, WebhookEndpointRow } from '../schema.js';
import type { ClaimedDelivery, DeliveryAttempt, DeliveryOutcome, WebhookEndpoint } from '../types.js';

/**
 * The outbox's bookkeeping on SQLite: prepared statements on the one connection, each claim and each group of
 * attempt records one transaction, taken under Kysely's connection lock so nothing interleaves with it.
 *
 * These transactions commit at `synchronous=NORMAL` (no fsync): a power cut can lose the last few, which only means
 * those attempts are made again, as after a crash in the middle of one (deliveries are at least once). Events and
 * deliveries themselves are written by the ingest at FULL, which every transaction here puts back.
 */
export class SqliteOutbox implements OutboxBookkeeping {
  private prepared:
    | Record<'fresh' | 'retries' | 'lease' | 'endpoint' | 'event' | 'message' | 'record' | 'attempt' | 'postpone' | 'relaxed' | 'durable', Statement>
    | undefined;

  constructor(
    private readonly database: SqliteDatabase,
    private readonly db: Kysely<Database>,
  ) {}

  /** Prepared on first use: the store is created before its tables are. */
  private get statements() {
    if (this.prepared) return this.prepared;
    const { database } = this;
    // The lanes' conditions are literals, so the planner matches them to their partial indexes (migration 0004).
    const due = (lane: string) =>
      database.prepare(
        `select id from deliveries where status = 'pending' and ${lane} and next_attempt_at <= ? and (lease_until is null or lease_until < ?) ` +
          'order by next_attempt_at limit ?',
      );
    this.prepared = {
      fresh: due('attempts = 0').pluck(),
      retries: due('attempts > 0').pluck(),
      lease: database.prepare('update deliveries set lease_until = ? where id = ? returning *'),
      endpoint: database.prepare('select * from webhook_endpoints where id = ?'),
      event: database.prepare('select * from events where id = ?'),
      message: database.prepare('select * from messages where environment_id = ? and id = ?'),
      // Only the worker whose attempt it is may record it: a lease that ran out and was taken over has moved
      // `attempts` on, and a late answer changes nothing.
      record: database.prepare(
        'update deliveries set status = ?, attempts = ?, next_attempt_at = ?, lease_until = null, last_status_code = ?, last_error = ?, updated_at = ? ' +
          'where id = ? and attempts = ?',
      ),
      attempt: database.prepare(
        'insert into delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, error) values (?, ?, ?, ?, ?, ?, ?) ' +
          'on conflict do nothing',
      ),
      postpone: database.prepare('update deliveries set next_attempt_at = ?, lease_until = null where id = ? and attempts = ?'),
      relaxed: database.prepare('pragma synchronous = NORMAL'),
      durable: database.prepare('pragma synchronous = FULL'),
    };
    return this.prepared;
  }

  claim(input: { now: number; limit: number; leaseUntil: number }): Promise<ClaimedDelivery[]> {
    const { now, limit, leaseUntil } = input;
    return this.transaction(() => {
      const { statements } = this;
      // fresh deliveries first, then retries
      const ids = statements.fresh.all(now, now, limit) as string[];
      if (ids.length < limit) ids.push(...(statements.retries.all(now, now, limit - ids.length) as string[]));
      const endpoints = new Map<string, WebhookEndpoint | null>();
      return ids.map((id) => {
        const delivery = deliveryFromRow(statements.lease.get(leaseUntil, id) as DeliveryRow);
        if (!endpoints.has(delivery.endpointId)) {
          const row = statements.endpoint.get(delivery.endpointId) as WebhookEndpointRow | undefined;
          endpoints.set(delivery.endpointId, row ? endpointFromRow(row) : null);
        }
        const event = statements.event.get(delivery.eventId) as EventRow | undefined;
        const message = delivery.messageId === null ? undefined : (statements.message.get(delivery.environmentId, delivery.messageId) as MessageRow | undefined);
        return { delivery, endpoint: endpoints.get(delivery.endpointId)!, event: event ? eventFromRow(event) : null, message: message ? messageFromRow(message) : null };
      });
    });
  }

  record(records: { attempt: DeliveryAttempt; outcome: DeliveryOutcome }[], now: number): Promise<boolean[]> {
    return this.transaction(() =>
      records.map(({ attempt, outcome }) => {
        const updated = this.statements.record.run(
          outcome.status,
          attempt.attempt,
          outcome.nextAttemptAt,
          outcome.lastStatusCode,
          outcome.lastError,
          now,
          attempt.deliveryId,
          attempt.attempt - 1,
        );
        if (updated.changes === 0) return false;
        this.statements.attempt.run(attempt.deliveryId, attempt.attempt, attempt.startedAt, attempt.durationMs, attempt.statusCode, attempt.responseBody, attempt.error);
        return true;
      }),
    );
  }

  async postpone(id: string, attempts: number, until: number): Promise<void> {
    await this.transaction(() => this.statements.postpone.run(until, id, attempts));
  }

  private transaction<T>(work: () => T): Promise<T> {
    return this.db.connection().execute(async () => {
      this.statements.relaxed.run();
      try {
        this.database.exec('begin immediate');
        try {
          const result = work();
          this.database.exec('commit');
          return result;
        } catch (error) {
          if (this.database.inTransaction) this.database.exec('rollback');
          throw error;
        }
      } finally {
        this.statements.durable.run();
      }
    });
  }
}
