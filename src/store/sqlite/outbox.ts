import type { Database as SqliteDatabase, Statement } from 'better-sqlite3';
import type { Kysely } from 'kysely';
import type { OutboxBookkeeping } from '../kysely-store.js';
import { deliveryFromRow, endpointFromRow, eventFromRow, messageFromRow } from '../rows.js';
import type { Database, DeliveryRow, EventRow, MessageRow, WebhookEndpointRow } from '../schema.js';
import { DISABLE_AFTER_FAILING_MS, DISABLED_FAILING, DISABLED_GONE, type AttemptRecord, type ClaimInput, type ClaimedDelivery, type WebhookEndpoint } from '../types.js';

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
    | Record<'fresh' | 'retries' | 'lease' | 'endpoint' | 'event' | 'message' | 'record' | 'attempt' | 'health' | 'postpone', Statement>
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
          'order by next_attempt_at limit ? offset ?',
      );
    this.prepared = {
      fresh: due('attempts = 0').pluck(),
      retries: due('attempts > 0').pluck(),
      lease: database.prepare('update deliveries set lease_until = ? where id = ? returning *'),
      endpoint: database.prepare('select * from webhook_endpoints where id = ? and environment_id = ?'),
      event: database.prepare('select * from events where id = ? and environment_id = ?'),
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
      health: database.prepare(ENDPOINT_HEALTH),
      postpone: database.prepare('update deliveries set next_attempt_at = ?, lease_until = null where id = ? and lease_until = ?'),
    };
    return this.prepared;
  }

  claim(input: ClaimInput): Promise<ClaimedDelivery[]> {
    const { now, limit, leaseUntil, freshOnly } = input;
    const share = freshOnly ? 0 : Math.min(limit, input.retries ?? 0);
    return this.transaction(() => {
      const { statements } = this;
      // the retries' share first, then fresh deliveries, then retries again for what is left (ClaimInput)
      const ids = share > 0 ? (statements.retries.all(now, now, share, 0) as string[]) : [];
      const retried = ids.length;
      ids.push(...(statements.fresh.all(now, now, limit - retried, 0) as string[]));
      if (ids.length < limit && !freshOnly && retried === share) ids.push(...(statements.retries.all(now, now, limit - ids.length, retried) as string[]));
      const endpoints = new Map<string, WebhookEndpoint | null>();
      return ids.map((id) => {
        const delivery = deliveryFromRow(statements.lease.get(leaseUntil, id) as DeliveryRow);
        if (!endpoints.has(delivery.endpointId)) {
          const row = statements.endpoint.get(delivery.endpointId, delivery.environmentId) as WebhookEndpointRow | undefined;
          endpoints.set(delivery.endpointId, row ? endpointFromRow(row) : null);
        }
        const event = statements.event.get(delivery.eventId, delivery.environmentId) as EventRow | undefined;
        const message = delivery.messageId === null ? undefined : (statements.message.get(delivery.environmentId, delivery.messageId) as MessageRow | undefined);
        return { delivery, endpoint: endpoints.get(delivery.endpointId)!, event: event ? eventFromRow(event) : null, message: message ? messageFromRow(message) : null };
      });
    });
  }

  record(records: AttemptRecord[], now: number): Promise<boolean[]> {
    return this.transaction(() => {
      const { statements } = this;
      const health = new Map<string, { succeeded: number; gone: number }>();
      const recorded = records.map(({ attempt, outcome, endpointId, health: said }) => {
        const updated = statements.record.run(
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
        statements.attempt.run(attempt.deliveryId, attempt.attempt, attempt.startedAt, attempt.durationMs, attempt.statusCode, attempt.responseBody, attempt.error);
        if (said !== null) {
          const seen = health.get(endpointId) ?? { succeeded: 0, gone: 0 };
          if (said === 'succeeded') seen.succeeded = 1;
          if (said === 'gone') seen.gone = 1;
          health.set(endpointId, seen);
        }
        return true;
      });
      for (const [id, seen] of health) {
        statements.health.run({ id, ...seen, now, cutoff: now - DISABLE_AFTER_FAILING_MS, goneReason: DISABLED_GONE, failingReason: DISABLED_FAILING });
      }
      return recorded;
    });
  }

  async postpone(id: string, leaseUntil: number, until: number): Promise<void> {
    await this.transaction(() => this.statements.postpone.run(until, id, leaseUntil));
  }

  private transaction<T>(work: () => T): Promise<T> {
    return this.db.connection().execute(async () => {
      const { database } = this;
      // compiled each time: SQLite applies `pragma synchronous = …` as it compiles it, and the first run of a
      // prepared one does nothing (measured), which left the first transaction at FULL and the next at NORMAL
      database.exec('pragma synchronous = NORMAL');
      try {
        database.exec('begin immediate');
        try {
          const result = work();
          database.exec('commit');
          return result;
        } catch (error) {
          try {
            if (database.inTransaction) database.exec('rollback');
          } catch {
            // the error that matters is the first one
          }
          throw error;
        }
      } finally {
        // back to FULL for the ingest; SQLite refuses to change it inside a transaction, which only a failed
        // rollback could leave open, and then the connection has worse problems than this setting
        if (!database.inTransaction) database.exec('pragma synchronous = FULL');
      }
    });
  }
}

/**
 * An endpoint's health after a group of recorded attempts, worked out on the row as it is: any 2xx clears
 * `failing_since`; otherwise it is set when unset, and the endpoint is disabled once it is old enough; a 410
 * disables it. Rows are written only when something changes.
 */
const ENDPOINT_HEALTH = `
  update webhook_endpoints set
    failing_since = case when @succeeded then null else coalesce(failing_since, @now) end,
    enabled = case when @gone then 0 when not @succeeded and coalesce(failing_since, @now) <= @cutoff then 0 else enabled end,
    disabled_reason = case
      when enabled = 1 and @gone then @goneReason
      when enabled = 1 and not @succeeded and coalesce(failing_since, @now) <= @cutoff then @failingReason
      else disabled_reason end,
    updated_at = @now
  where id = @id and (
    (@gone and enabled = 1)
    or (@succeeded and failing_since is not null)
    or (not @succeeded and (failing_since is null or (enabled = 1 and failing_since <= @cutoff))))`;
