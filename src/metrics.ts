import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every Prometheus metric Mailtrail exports. One registry per instance, so several can live in one process. */
export class Metrics {
  readonly registry = new Registry();

  readonly events = new Counter({
    name: 'mailtrail_events_total',
    help: 'Normalized events stored, by provider and status (duplicates excluded)',
    labelNames: ['provider', 'status'] as const,
    registers: [this.registry],
  });

  readonly ignoredEvents = new Counter({
    name: 'mailtrail_ignored_events_total',
    help: 'Provider events with no mapped status, stored as ignored',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly duplicateEvents = new Counter({
    name: 'mailtrail_duplicate_events_total',
    help: 'Provider events received again (retries, replays) and not stored twice',
    labelNames: ['provider'] as const,
    registers: [this.registry],
  });

  readonly trackingHits = new Counter({
    name: 'mailtrail_tracking_hits_total',
    help: 'First-party hits (open pixel, tracked links, unsubscribe), by kind and result: stored, failed (logged) or refused (no such environment or message id)',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });

  readonly signatureFailures = new Counter({
    name: 'mailtrail_signature_failures_total',
    help: 'Inbound requests refused for a missing or wrong signature or credentials',
    labelNames: ['provider', 'code'] as const,
    registers: [this.registry],
  });

  readonly requestDuration = new Histogram({
    name: 'mailtrail_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly deliveryAttempts = new Counter({
    name: 'mailtrail_webhook_attempts_total',
    help: 'Outbound webhook attempts, by what became of the delivery: succeeded, retrying or failed',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  readonly deliveryDuration = new Histogram({
    name: 'mailtrail_webhook_attempt_duration_seconds',
    help: 'Outbound webhook attempt latency',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15],
    registers: [this.registry],
  });

  /**
   * Reads the outbox at each scrape: deliveries due now, and how long the oldest has waited. Both gauges share one
   * read; when the database cannot be read (a restart) they keep their last figures, so the scrape still answers
   * with everything else instead of failing.
   */
  watchOutbox(stats: () => Promise<{ due: number; oldestDueAt: number | null }>, now: () => number): void {
    let reading: Promise<{ due: number; oldestDueAt: number | null } | null> | null = null;
    const read = () =>
      (reading ??= stats()
        .catch(() => null)
        .finally(() => {
          reading = null;
        }));
    new Gauge({
      name: 'mailtrail_webhook_queue_depth',
      help: 'Outbound deliveries due now',
      registers: [this.registry],
      async collect() {
        const outbox = await read();
        if (outbox) this.set(outbox.due);
      },
    });
    new Gauge({
      name: 'mailtrail_webhook_oldest_due_seconds',
      help: 'How long the oldest due outbound delivery has waited',
      registers: [this.registry],
      async collect() {
        const outbox = await read();
        if (outbox) this.set(outbox.oldestDueAt === null ? 0 : Math.max(0, (now() - outbox.oldestDueAt) / 1000));
      },
    });
  }

  countDelivery(result: 'succeeded' | 'retrying' | 'failed', durationMs: number): void {
    this.deliveryAttempts.inc({ result });
    this.deliveryDuration.observe(durationMs / 1000);
  }

  constructor(options: { processMetrics?: boolean } = {}) {
    if (options.processMetrics) collectDefaultMetrics({ register: this.registry });
  }
}
