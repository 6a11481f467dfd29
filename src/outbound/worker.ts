import { MailtrailError } from '../core/errors.js';
import type { Logger } from '../log.js';
import { storableText } from '../core/text.js';
import { isStorageUnavailable } from '../store/storage-errors.js';
import type { AttemptRecord, ClaimedDelivery, Delivery, DeliveryOutcome, Store, WebhookEndpoint } from '../store/types.js';
import type { EndpointService } from './endpoints.js';
import { Outage } from './outage.js';
import { renderPayload } from './payload.js';
import { nextAttemptAt, retryAfterMs } from './schedule.js';
import { outboundHeaders } from './signing.js';
import { REQUEST_TIMEOUT_MS, succeeded, type AttemptResponse, type Sender } from './sender.js';

export interface WorkerOptions {
  store: Store;
  endpoints: EndpointService;
  sender: Sender;
  schedule: readonly number[];
  concurrency: number;
  log: Logger;
  now: () => number;
  /** How often an idle worker looks for due deliveries. */
  pollMs?: number;
  /** How long an attempt may take (default 15 s); a claimed delivery is leased for four times that. */
  requestTimeoutMs?: number;
  onAttempt?: (result: 'succeeded' | 'retrying' | 'failed', durationMs: number) => void;
}

/** A claimed delivery with the end of its lease. */
type Leased = ClaimedDelivery & { leaseUntil: number };

/**
 * Sends the outbox: claims due deliveries under a lease, signs them (Standard Webhooks), posts them, and records
 * every attempt with its outcome. Several workers, in this process or others, can share one PostgreSQL outbox.
 */
export class DeliveryWorker {
  private inFlight = 0;
  private retriesInFlight = 0;
  /** Set by outside wakes (an ingest commit, the poll): a claim for fresh deliveries alone may find something. */
  private freshProbe = true;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = true;
  private readonly idle = new Set<() => void>();
  /** Claimed and read, waiting for a free slot, each with the end of its lease. */
  private ready: (Leased)[] = [];
  /** Attempts waiting to be recorded, with the callers waiting on them: recorded together, one commit for many. */
  private queue: { record: AttemptRecord; done: (recorded: boolean) => void; failed: (error: unknown) => void }[] = [];
  private flushing = false;
  private flushScheduled = false;
  private flushFailures = 0;
  /** Claims and records pause together while the database cannot be used. */
  private readonly outage: Outage;
  /** Ends the pause of a record that waits for the database, so that stopping is not held up by it. */
  private interruptPause: (() => void) | undefined;
  /** Per endpoint with a rate limit: the earliest time its next request may start (this process's share). */
  private readonly nextSlot = new Map<string, number>();
  /** Endpoints read again for deliveries that waited (see `currentEndpoint`). */
  private readonly endpointReads = new Map<string, { endpoint: WebhookEndpoint | null; at: number }>();

  constructor(private readonly options: WorkerOptions) {
    this.outage = new Outage(options.log, options.now);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.timer = setInterval(() => this.look(), this.options.pollMs ?? 250);
    this.timer.unref();
    this.look();
  }

  /** Stops claiming; resolves once the attempts in flight are recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.interruptPause?.();
    while (this.ticking) await new Promise((resolve) => setTimeout(resolve, 5));
    await this.release();
    if (this.inFlight === 0) return;
    await new Promise<void>((resolve) => this.idle.add(resolve));
  }

  /**
   * Called after each ingest commit: looks for due deliveries now when the commit queued some, so fresh events go out
   * at once. A commit that queued none (no endpoint wants its events, as for most first-party hits) costs no claim,
   * which is a write; the poll still looks every `pollMs`.
   */
  wake(queued = true): void {
    // a commit just went through: a pause for a database that was away ends now rather than at its term
    const recovered = this.outage.succeeded();
    if (recovered) this.interruptPause?.();
    if (queued || recovered) this.look();
  }

  /** An outside look for due deliveries (a wake, the poll): a claim for fresh deliveries alone may find something. */
  private look(): void {
    this.freshProbe = true;
    this.kick();
  }

  /** Runs a tick now, or right after the one running; from inside, where no new fresh delivery is implied. */
  private kick(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick().finally(() => {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async tick(): Promise<void> {
    this.startReady();
    // the poll wakes the worker again; the first claim after the pause tells whether the database is back
    if (this.outage.pausing()) return;
    const { concurrency } = this.options;
    // Claimed ahead, up to one more round of the slots, so the next deliveries are ready when slots free up; a claim
    // is a write (a commit) and is made for half the slots or more at a time, not for each slot that frees up.
    let room = 2 * concurrency - this.inFlight - this.ready.length;
    let freshOnly = false;
    if (room < concurrency / 2) {
      // The buffer is full of retries that wait for the slots retries may hold (slow endpoints, say): fresh
      // deliveries are looked for alone, for the slots kept for them, so none waits behind the backlog.
      // Only after an ingest commit or a poll: each probe is a write, and finished retries should not each make one.
      const idle = concurrency - this.inFlight;
      if (!this.freshProbe || idle <= 0 || this.ready.some((entry) => entry.delivery.attempts === 0)) return;
      this.freshProbe = false;
      room = idle;
      freshOnly = true;
    }
    // retries enough to fill their quarter of the slots, counting those in flight and already claimed
    const retriesReady = this.ready.filter((entry) => entry.delivery.attempts > 0).length;
    const retries = Math.max(0, retryFloor(concurrency) - this.retriesInFlight - retriesReady);
    const now = this.options.now();
    // Longer than an attempt can take, so no live worker's delivery is taken over; a crashed worker's is, after it.
    const leaseUntil = now + this.leaseMs();
    let claimed: ClaimedDelivery[];
    try {
      claimed = await this.options.store.claimDeliveries({ now, limit: room, leaseUntil, retries, freshOnly });
      this.outage.succeeded();
    } catch (error) {
      this.outage.failed(error);
      return;
    }
    // fresh deliveries go ahead of the retries already waiting, as they do in the claim
    const firstRetry = this.ready.findIndex((entry) => entry.delivery.attempts > 0);
    const fresh = claimed.filter((entry) => entry.delivery.attempts === 0).map((entry) => ({ ...entry, leaseUntil }));
    this.ready.splice(firstRetry === -1 ? this.ready.length : firstRetry, 0, ...fresh);
    for (const entry of claimed) if (entry.delivery.attempts > 0) this.ready.push({ ...entry, leaseUntil });
    if (this.stopped) {
      // stopped meanwhile: given back at once rather than left to their leases
      await this.release();
      return;
    }
    this.startReady();
    if (claimed.length === room && !freshOnly) this.again = true;
  }

  /**
   * Starts claimed deliveries while there are free slots, fresh ones first. Retries may hold all but a quarter of
   * the slots (at least one is kept when there are two or more): the rest are for fresh deliveries, which a backlog
   * of retries to slow endpoints cannot hold up. And retries are always let have a quarter (from four slots up), so
   * a flood of fresh deliveries cannot starve them either.
   */
  private startReady(): void {
    const { concurrency } = this.options;
    const retrySlots = concurrency - (concurrency >= 2 ? Math.max(1, Math.floor(concurrency / 4)) : 0);
    const floor = retryFloor(concurrency);
    while (!this.stopped && this.inFlight < concurrency && this.ready.length > 0) {
      // fresh deliveries are at the front, then retries
      let next = 0;
      if (this.ready[0]!.delivery.attempts === 0 && this.retriesInFlight < floor) {
        const firstRetry = this.ready.findIndex((entry) => entry.delivery.attempts > 0);
        if (firstRetry !== -1) next = firstRetry;
      }
      const retry = this.ready[next]!.delivery.attempts > 0;
      if (retry && this.retriesInFlight >= retrySlots) return;
      const [claimed] = this.ready.splice(next, 1) as [Leased];
      this.inFlight++;
      if (retry) this.retriesInFlight++;
      const { delivery } = claimed;
      void this.deliver(claimed)
        .catch((error: unknown) => this.options.log.error({ err: error, deliveryId: delivery.id }, 'delivery attempt failed to record'))
        .finally(() => {
          this.inFlight--;
          if (retry) this.retriesInFlight--;
          if (this.inFlight === 0) {
            for (const resolve of this.idle) resolve();
            this.idle.clear();
          }
          this.startReady();
          this.kick();
        });
    }
  }

  /** Gives the claimed deliveries that were not started back to the outbox, due when they were (on stop). */
  private async release(): Promise<void> {
    const unstarted = this.ready.splice(0);
    const now = this.options.now();
    for (const { delivery, leaseUntil } of unstarted) {
      try {
        await this.options.store.postponeDelivery(delivery.id, leaseUntil, delivery.nextAttemptAt ?? now);
      } catch (error) {
        // its lease runs out and it is claimed again
        this.options.log.warn({ err: error, deliveryId: delivery.id }, 'could not give a claimed delivery back');
      }
    }
  }

  private async deliver({ delivery, endpoint: claimedEndpoint, event, message, leaseUntil }: Leased): Promise<void> {
    const { now } = this.options;
    const attempt = delivery.attempts + 1;
    const startedAt = now();
    // Sending must end, and its record be written, while the lease is this worker's; otherwise another worker may
    // take the delivery over and send it too. A lease already gone is not touched: whoever holds it now sends it.
    if (startedAt + 2 * this.requestTimeoutMs() > leaseUntil) {
      if (startedAt < leaseUntil) await this.options.store.postponeDelivery(delivery.id, leaseUntil, startedAt);
      return;
    }
    // A delivery that waited for a slot (behind slow answers) reads its endpoint again: one disabled, deleted, moved
    // or given a new secret meanwhile is taken as it is now.
    const endpoint = startedAt - (leaseUntil - this.leaseMs()) > STALE_ENDPOINT_MS ? await this.currentEndpoint(delivery, claimedEndpoint) : claimedEndpoint;
    if (!endpoint || !endpoint.enabled) {
      const reason = endpoint ? `the endpoint is disabled${endpoint.disabledReason ? `: ${endpoint.disabledReason}` : ''}` : 'the endpoint was deleted';
      await this.record(delivery, attempt, startedAt, null, { status: 'failed', nextAttemptAt: null, lastStatusCode: null, lastError: reason });
      return;
    }
    if (!event) {
      await this.record(delivery, attempt, startedAt, null, { status: 'failed', nextAttemptAt: null, lastStatusCode: null, lastError: 'the event no longer exists' });
      return;
    }
    const wait = this.slotWait(endpoint);
    if (now() + wait + 2 * this.requestTimeoutMs() > leaseUntil) {
      // the endpoint's rate limit would hold this attempt too close to the end of its lease: due again when there is room
      await this.options.store.postponeDelivery(delivery.id, leaseUntil, now() + wait);
      return;
    }
    let body: string;
    let headers: Record<string, string>;
    try {
      body = renderPayload(event, message);
      headers = this.headers(endpoint, delivery, attempt, body);
    } catch (error) {
      // nothing this attempt can fix by waiting: failed, with the reason, rather than retried forever
      await this.record(delivery, attempt, startedAt, null, { status: 'failed', nextAttemptAt: null, lastStatusCode: null, lastError: `could not build the request: ${(error as Error).message}` });
      return;
    }
    this.takeSlot(endpoint);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const response = await this.options.sender.post(endpoint.url, headers, body);
    const outcome = this.outcome(response, attempt);
    await this.record(delivery, attempt, startedAt, response, outcome);
  }

  /**
   * The endpoint as it is now, read at most once a second per endpoint (deliveries waiting behind slow answers
   * would otherwise each read it); the claim's copy when it cannot be read.
   */
  private async currentEndpoint(delivery: Delivery, claimed: WebhookEndpoint | null): Promise<WebhookEndpoint | null> {
    const now = this.options.now();
    const cached = this.endpointReads.get(delivery.endpointId);
    if (cached && now - cached.at <= STALE_ENDPOINT_MS) return cached.endpoint;
    try {
      const endpoint = await this.options.store.getEndpoint(delivery.environmentId, delivery.endpointId);
      if (this.endpointReads.size >= 1000) this.endpointReads.clear();
      this.endpointReads.set(delivery.endpointId, { endpoint, at: now });
      return endpoint;
    } catch (error) {
      this.options.log.warn({ err: error, endpointId: delivery.endpointId }, 'could not read the endpoint again; using the claimed copy');
      return claimed;
    }
  }

  /** How long this endpoint's next request must wait for its rate limit (requests `1 / rateLimit` s apart). */
  private slotWait(endpoint: WebhookEndpoint): number {
    if (endpoint.rateLimit === null) return 0;
    return Math.max(0, (this.nextSlot.get(endpoint.id) ?? 0) - this.options.now());
  }

  private takeSlot(endpoint: WebhookEndpoint): void {
    if (endpoint.rateLimit === null) return;
    const slot = Math.max(this.options.now(), this.nextSlot.get(endpoint.id) ?? 0);
    this.nextSlot.set(endpoint.id, slot + 1000 / endpoint.rateLimit);
  }

  private requestTimeoutMs(): number {
    return this.options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  }

  /** Long enough to wait for a slot (up to one attempt), for the rate limit, and for the attempt itself. */
  private leaseMs(): number {
    return this.requestTimeoutMs() * 4;
  }

  private headers(endpoint: WebhookEndpoint, delivery: Delivery, attempt: number, body: string): Record<string, string> {
    const now = this.options.now();
    return outboundHeaders(endpoint, this.options.endpoints.signingKeys(endpoint, now), delivery.id, attempt, body, now);
  }

  private outcome(response: AttemptResponse, attempt: number): DeliveryOutcome {
    const { statusCode } = response;
    if (succeeded(response)) return { status: 'succeeded', nextAttemptAt: null, lastStatusCode: statusCode, lastError: null };
    const lastError = response.error ?? (statusCode !== null ? `HTTP ${statusCode}` : null);
    // An address the operator has not allowed, or an endpoint that says it is gone, will not change by waiting.
    if (response.refused || statusCode === 410) return { status: 'failed', nextAttemptAt: null, lastStatusCode: statusCode, lastError };
    const now = this.options.now();
    const next = nextAttemptAt(this.options.schedule, attempt, now, {
      retryAfterMs: retryAfterMs(response.retryAfter, now),
      throttled: statusCode === 429 || response.timedOut,
    });
    return next === null ? { status: 'failed', nextAttemptAt: null, lastStatusCode: statusCode, lastError } : { status: 'pending', nextAttemptAt: next, lastStatusCode: statusCode, lastError };
  }

  private async record(delivery: Delivery, attempt: number, startedAt: number, response: AttemptResponse | null, outcome: DeliveryOutcome): Promise<void> {
    const record: AttemptRecord = {
      attempt: {
        deliveryId: delivery.id,
        attempt,
        startedAt,
        durationMs: response?.durationMs ?? 0,
        statusCode: response?.statusCode ?? null,
        // a receiver's answer is any text: made storable (PostgreSQL refuses NUL), as provider text is
        responseBody: response?.body === null || response?.body === undefined ? null : storableText(response.body),
        error: response ? (response.error === null ? null : storableText(response.error)) : outcome.lastError,
      },
      outcome,
      endpointId: delivery.endpointId,
      // only a request made says something about the endpoint
      health: response === null ? null : succeeded(response) ? 'succeeded' : response.statusCode === 410 ? 'gone' : 'failed',
    };
    const recorded = await new Promise<boolean>((done, failed) => {
      this.queue.push({ record, done, failed });
      this.scheduleFlush();
    });
    if (recorded) this.options.onAttempt?.(outcome.status === 'pending' ? 'retrying' : outcome.status, response?.durationMs ?? 0);
  }

  /**
   * Recording waits for the end of this turn of the event loop, so the answers that arrived together share one
   * transaction (with SQLite a transaction runs to its end without yielding, and would otherwise take them one by one).
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /**
   * Group commit for attempts: whatever finished while the last transaction ran goes into the next one. A group the
   * database refuses is tried again a few times, with growing pauses, before its attempts are reported as
   * unrecorded: they were sent, and would be sent again. While the database cannot be reached at all (a restart, a
   * failover) the group waits for it instead, pausing as claims do, for as long as the worker runs: a record written
   * late is still right, since only the attempt that follows the stored one is recorded.
   */
  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    this.flushing = true;
    const batch = this.queue.splice(0, 500);
    try {
      const recorded = await this.options.store.recordAttempts(
        batch.map((entry) => entry.record),
        this.options.now(),
      );
      this.flushFailures = 0;
      this.outage.succeeded();
      batch.forEach((entry, index) => entry.done(recorded[index] ?? false));
    } catch (error) {
      const unreachable = isStorageUnavailable(error);
      if (unreachable && !this.stopped) {
        this.outage.failed(error);
        this.queue.unshift(...batch);
        await this.pause(this.outage.remainingMs());
      } else if (!unreachable && this.flushFailures < FLUSH_RETRIES) {
        this.flushFailures++;
        this.options.log.warn({ err: error, attempts: batch.length }, 'could not record attempts; trying again');
        this.queue.unshift(...batch);
        await this.pause(100 * 2 ** this.flushFailures);
      } else {
        this.flushFailures = 0;
        for (const entry of batch) entry.failed(error);
      }
    } finally {
      this.flushing = false;
      void this.flush();
    }
  }

  /** Waits `ms`, or less when the worker is stopped meanwhile. */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        this.interruptPause = undefined;
        resolve();
      };
      const timer = setTimeout(end, ms);
      this.interruptPause = end;
    });
  }
}

/** The slots retries are always let have (from four slots up), so a flood of fresh deliveries cannot starve them. */
function retryFloor(concurrency: number): number {
  return Math.floor(concurrency / 4);
}

/** How long a claimed delivery may wait for a slot before its endpoint is read again. */
const STALE_ENDPOINT_MS = 1000;

/** How many times a group of attempt records is tried again (after 0.2, 0.4, 0.8, 1.6 and 3.2 s). */
const FLUSH_RETRIES = 5;

export function checkConcurrency(value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new MailtrailError('MT_ERR_CONFIG', 'the webhook worker concurrency must be 1 to 256');
  return value;
}
