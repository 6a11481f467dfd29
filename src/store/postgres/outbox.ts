import type pg from 'pg';
import { deliveryFromRow, endpointFromRow, eventFromRow, messageFromRow } from '../rows.js';
import type { DeliveryRow, EventRow, MessageRow, WebhookEndpointRow } from '../schema.js';
import { DISABLE_AFTER_FAILING_MS, DISABLED_FAILING, DISABLED_GONE, type AttemptRecord, type ClaimInput, type ClaimedDelivery } from '../types.js';

/**
 * The outbox's bookkeeping on PostgreSQL: each claim and each group of attempt records is one statement, so one
 * round trip, on connections that commit without waiting for the WAL flush (`synchronous_commit=off`). A crash can
 * lose the last few of these commits, which only means those attempts are made again, as after a crash in the middle
 * of one: deliveries are at least once. Events and deliveries themselves are written durably, by the ingest.
 *
 * The statements are named, so each connection plans them once (planning cost as much as running them).
 */
export class PostgresOutbox {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Leases up to `limit` due deliveries: the retries' share, fresh ones, then retries for what is left (ClaimInput),
   * each lane read in the order of its partial index; rows another worker holds are skipped, not waited for. The
   * same statement reads each delivery's endpoint, event and message, so a claim is one round trip.
   */
  async claim(input: ClaimInput): Promise<ClaimedDelivery[]> {
    const { now, limit, leaseUntil, freshOnly } = input;
    const { rows } = await this.pool.query<{ delivery: DeliveryRow; endpoint: WebhookEndpointRow | null; event: EventRow | null; message: MessageRow | null }>({
      name: 'mailtrail_claim_deliveries',
      text: CLAIM,
      values: [now, limit, leaseUntil, freshOnly === true, freshOnly ? 0 : Math.min(limit, input.retries ?? 0)],
    });
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
    const { rows } = await this.pool.query<{ id: string; attempts: number }>({
      name: 'mailtrail_record_attempts',
      text: RECORD,
      values: [
        column((r) => r.attempt.deliveryId),
        column((r) => r.attempt.attempt),
        column((r) => r.outcome.status),
        column((r) => r.outcome.nextAttemptAt),
        column((r) => r.outcome.lastStatusCode),
        column((r) => r.outcome.lastError),
        column((r) => r.attempt.startedAt),
        column((r) => r.attempt.durationMs),
        column((r) => r.attempt.statusCode),
        column((r) => r.attempt.responseBody),
        column((r) => r.attempt.error),
        column((r) => r.endpointId),
        column((r) => r.health),
        now,
        now - DISABLE_AFTER_FAILING_MS,
        DISABLED_GONE,
        DISABLED_FAILING,
      ],
    });
    const recorded = new Set(rows.map((row) => `${row.id} ${row.attempts}`));
    return records.map((record) => recorded.has(`${record.attempt.deliveryId} ${record.attempt.attempt}`));
  }

  async postpone(id: string, leaseUntil: number, until: number): Promise<void> {
    await this.pool.query({
      name: 'mailtrail_postpone_delivery',
      text: 'update deliveries set next_attempt_at = $1, lease_until = null where id = $2 and lease_until = $3',
      values: [until, id, leaseUntil],
    });
  }
}

// $5: the retries' share (ClaimInput.retries), taken first; then fresh deliveries; then retries for what is left
const CLAIM = `
  with share as (
    select id from deliveries
    where status = 'pending' and attempts > 0 and next_attempt_at <= $1 and (lease_until is null or lease_until < $1)
    order by next_attempt_at limit $5 for update skip locked
  ), fresh as (
    select id from deliveries
    where status = 'pending' and attempts = 0 and next_attempt_at <= $1 and (lease_until is null or lease_until < $1)
    order by next_attempt_at limit ($2 - (select count(*) from share)) for update skip locked
  ), retries as (
    select id from deliveries
    where status = 'pending' and attempts > 0 and next_attempt_at <= $1 and (lease_until is null or lease_until < $1)
      and id not in (select id from share)
    order by next_attempt_at
    limit (case when $4::boolean then 0 else $2 - (select count(*) from share) - (select count(*) from fresh) end) for update skip locked
  ), claimed as (
    update deliveries set lease_until = $3
    where id in (select id from share union all select id from fresh union all select id from retries)
    returning *
  )
  select to_json(c) as delivery, to_json(p) as endpoint, to_json(e) as event, to_json(m) as message
  from claimed as c
  left join webhook_endpoints as p on p.id = c.endpoint_id and p.environment_id = c.environment_id
  left join events as e on e.id = c.event_id and e.environment_id = c.environment_id
  left join messages as m on m.environment_id = c.environment_id and m.id = c.message_id
  order by c.attempts, c.next_attempt_at`;

// $14 now, $15 the failing cutoff, $16 and $17 the reasons an endpoint is disabled
const RECORD = `
  with given as (
    select * from unnest(
      $1::text[], $2::int[], $3::text[], $4::bigint[], $5::int[], $6::text[], $7::bigint[], $8::int[], $9::int[], $10::text[],
      $11::text[], $12::text[], $13::text[]
    ) as g(id, attempt, status, next_attempt_at, last_status_code, last_error, started_at, duration_ms, status_code, response_body, error, endpoint_id, health)
  ), updated as (
    update deliveries as d
    set status = g.status, attempts = g.attempt, next_attempt_at = g.next_attempt_at, lease_until = null,
        last_status_code = g.last_status_code, last_error = g.last_error, updated_at = $14::bigint
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
      failing_since = case when h.succeeded then null else coalesce(e.failing_since, $14::bigint) end,
      enabled = case when h.gone then 0 when not h.succeeded and coalesce(e.failing_since, $14::bigint) <= $15::bigint then 0 else e.enabled end,
      disabled_reason = case
        when e.enabled = 1 and h.gone then $16::text
        when e.enabled = 1 and not h.succeeded and coalesce(e.failing_since, $14::bigint) <= $15::bigint then $17::text
        else e.disabled_reason end,
      updated_at = $14::bigint
    from health as h
    where e.id = h.endpoint_id and (
      (h.gone and e.enabled = 1)
      or (h.succeeded and e.failing_since is not null)
      or (not h.succeeded and (e.failing_since is null or (e.enabled = 1 and e.failing_since <= $15::bigint))))
  )
  select id, attempts from updated`;
