import { sql, type Kysely } from 'kysely';
import { deliveryFromRow, endpointFromRow, eventFromRow, messageFromRow } from '../rows.js';
import type { Database, DeliveryRow, EventRow, MessageRow, WebhookEndpointRow } from '../schema.js';
import type { ClaimedDelivery, DeliveryAttempt, DeliveryOutcome } from '../types.js';

/**
 * The outbox's bookkeeping on PostgreSQL: each claim and each group of attempt records is one statement, so one
 * round trip, on connections that commit without waiting for the WAL flush (`synchronous_commit=off`). A crash can
 * lose the last few of these commits, which only means those attempts are made again, as after a crash in the middle
 * of one: deliveries are at least once. Events and deliveries themselves are written durably, by the ingest.
 */
export class PostgresOutbox {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Leases up to `limit` due deliveries, fresh ones first and then retries, each lane read in the order of its
   * partial index; rows another worker holds are skipped, not waited for. The same statement reads each delivery's
   * endpoint, event and message, so a claim is one round trip.
   */
  async claim(input: { now: number; limit: number; leaseUntil: number }): Promise<ClaimedDelivery[]> {
    const { now, limit, leaseUntil } = input;
    const { rows } = await sql<{ delivery: DeliveryRow; endpoint: WebhookEndpointRow | null; event: EventRow | null; message: MessageRow | null }>`
      with fresh as (
        select id from deliveries
        where status = 'pending' and attempts = 0 and next_attempt_at <= ${now} and (lease_until is null or lease_until < ${now})
        order by next_attempt_at limit ${limit} for update skip locked
      ), retries as (
        select id from deliveries
        where status = 'pending' and attempts > 0 and next_attempt_at <= ${now} and (lease_until is null or lease_until < ${now})
        order by next_attempt_at limit (${limit} - (select count(*) from fresh)) for update skip locked
      ), claimed as (
        update deliveries set lease_until = ${leaseUntil}
        where id in (select id from fresh union all select id from retries)
        returning *
      )
      select to_json(c) as delivery, to_json(p) as endpoint, to_json(e) as event, to_json(m) as message
      from claimed as c
      left join webhook_endpoints as p on p.id = c.endpoint_id
      left join events as e on e.id = c.event_id
      left join messages as m on m.environment_id = c.environment_id and m.id = c.message_id
      order by c.attempts, c.next_attempt_at`.execute(this.db);
    return rows.map((row) => ({
      delivery: deliveryFromRow(row.delivery),
      endpoint: row.endpoint ? endpointFromRow(row.endpoint) : null,
      event: row.event ? eventFromRow(row.event) : null,
      message: row.message ? messageFromRow(row.message) : null,
    }));
  }

  /**
   * Records attempts and their outcomes in one statement. Only the worker whose attempt it is may record it: a lease
   * that ran out and was taken over has moved `attempts` on, and a late answer changes nothing (false at its index).
   */
  async record(records: { attempt: DeliveryAttempt; outcome: DeliveryOutcome }[], now: number): Promise<boolean[]> {
    const column = <T>(pick: (record: { attempt: DeliveryAttempt; outcome: DeliveryOutcome }) => T) => records.map(pick);
    const { rows } = await sql<{ id: string }>`
      with given as (
        select * from unnest(
          ${column((r) => r.attempt.deliveryId)}::text[], ${column((r) => r.attempt.attempt)}::int[],
          ${column((r) => r.outcome.status)}::text[], ${column((r) => r.outcome.nextAttemptAt)}::bigint[],
          ${column((r) => r.outcome.lastStatusCode)}::int[], ${column((r) => r.outcome.lastError)}::text[],
          ${column((r) => r.attempt.startedAt)}::bigint[], ${column((r) => r.attempt.durationMs)}::int[],
          ${column((r) => r.attempt.statusCode)}::int[], ${column((r) => r.attempt.responseBody)}::text[],
          ${column((r) => r.attempt.error)}::text[]
        ) as g(id, attempt, status, next_attempt_at, last_status_code, last_error, started_at, duration_ms, status_code, response_body, error)
      ), updated as (
        update deliveries as d
        set status = g.status, attempts = g.attempt, next_attempt_at = g.next_attempt_at, lease_until = null,
            last_status_code = g.last_status_code, last_error = g.last_error, updated_at = ${now}
        from given as g
        where d.id = g.id and d.attempts = g.attempt - 1
        returning d.id
      ), recorded as (
        insert into delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, error)
        select g.id, g.attempt, g.started_at, g.duration_ms, g.status_code, g.response_body, g.error
        from given as g where g.id in (select id from updated)
        on conflict do nothing
      )
      select id from updated`.execute(this.db);
    const recorded = new Set(rows.map((row) => row.id));
    return records.map((record) => recorded.has(record.attempt.deliveryId));
  }

  async postpone(id: string, attempts: number, until: number): Promise<void> {
    await this.db.updateTable('deliveries').set({ next_attempt_at: until, lease_until: null }).where('id', '=', id).where('attempts', '=', attempts).execute();
  }
}
