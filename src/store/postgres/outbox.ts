import { sql, type Kysely } from 'kysely';
import { deliveryFromRow, endpointFromRow, eventFromRow, messageFromRow } from '../rows.js';
import type { Database, DeliveryRow, EventRow, MessageRow, WebhookEndpointRow } from '../schema.js';
import { DISABLE_AFTER_FAILING_MS, DISABLED_FAILING, DISABLED_GONE, type AttemptRecord, type ClaimedDelivery } from '../types.js';

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
      left join webhook_endpoints as p on p.id = c.endpoint_id and p.environment_id = c.environment_id
      left join events as e on e.id = c.event_id and e.environment_id = c.environment_id
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
   * Records attempts, their outcomes and their endpoints' health in one statement. Only the worker whose attempt
   * it is may record it: a lease that ran out and was taken over has moved `attempts` on, and a late answer changes
   * nothing (false at its index). Endpoint health is worked out on the rows as they are (see sqlite/outbox.ts).
   */
  async record(records: AttemptRecord[], now: number): Promise<boolean[]> {
    const column = <T>(pick: (record: AttemptRecord) => T) => records.map(pick);
    const cutoff = now - DISABLE_AFTER_FAILING_MS;
    const { rows } = await sql<{ id: string; attempts: number }>`
      with given as (
        select * from unnest(
          ${column((r) => r.attempt.deliveryId)}::text[], ${column((r) => r.attempt.attempt)}::int[],
          ${column((r) => r.outcome.status)}::text[], ${column((r) => r.outcome.nextAttemptAt)}::bigint[],
          ${column((r) => r.outcome.lastStatusCode)}::int[], ${column((r) => r.outcome.lastError)}::text[],
          ${column((r) => r.attempt.startedAt)}::bigint[], ${column((r) => r.attempt.durationMs)}::int[],
          ${column((r) => r.attempt.statusCode)}::int[], ${column((r) => r.attempt.responseBody)}::text[],
          ${column((r) => r.attempt.error)}::text[], ${column((r) => r.endpointId)}::text[], ${column((r) => r.health)}::text[]
        ) as g(id, attempt, status, next_attempt_at, last_status_code, last_error, started_at, duration_ms, status_code, response_body, error, endpoint_id, health)
      ), updated as (
        update deliveries as d
        set status = g.status, attempts = g.attempt, next_attempt_at = g.next_attempt_at, lease_until = null,
            last_status_code = g.last_status_code, last_error = g.last_error, updated_at = ${now}
        from given as g
        where d.id = g.id and d.attempts = g.attempt - 1
        returning d.id, d.attempts
      ), recorded as (
        insert into delivery_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response_body, error)
        select g.id, g.attempt, g.started_at, g.duration_ms, g.status_code, g.response_body, g.error
        from given as g join updated as u on u.id = g.id and u.attempts = g.attempt
        on conflict do nothing
      ), health as (
        select g.endpoint_id, bool_or(g.health = 'succeeded') as succeeded, bool_or(g.health = 'gone') as gone
        from given as g join updated as u on u.id = g.id and u.attempts = g.attempt
        where g.health is not null
        group by g.endpoint_id
      ), endpoints as (
        update webhook_endpoints as e set
          failing_since = case when h.succeeded then null else coalesce(e.failing_since, ${now}) end,
          enabled = case when h.gone then 0 when not h.succeeded and coalesce(e.failing_since, ${now}) <= ${cutoff} then 0 else e.enabled end,
          disabled_reason = case
            when e.enabled = 1 and h.gone then ${DISABLED_GONE}
            when e.enabled = 1 and not h.succeeded and coalesce(e.failing_since, ${now}) <= ${cutoff} then ${DISABLED_FAILING}
            else e.disabled_reason end,
          updated_at = ${now}
        from health as h
        where e.id = h.endpoint_id and (
          (h.gone and e.enabled = 1)
          or (h.succeeded and e.failing_since is not null)
          or (not h.succeeded and (e.failing_since is null or (e.enabled = 1 and e.failing_since <= ${cutoff}))))
      )
      select id, attempts from updated`.execute(this.db);
    const recorded = new Set(rows.map((row) => `${row.id} ${row.attempts}`));
    return records.map((record) => recorded.has(`${record.attempt.deliveryId} ${record.attempt.attempt}`));
  }

  async postpone(id: string, leaseUntil: number, until: number): Promise<void> {
    await this.db.updateTable('deliveries').set({ next_attempt_at: until, lease_until: null }).where('id', '=', id).where('lease_until', '=', leaseUntil).execute();
  }
}
