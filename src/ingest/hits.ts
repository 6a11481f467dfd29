import type { ParsedEvent } from '../core/event.js';
import { MailtrailError, isMailtrailError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { createClassifier, SHIPPED_MACHINE_RANGES, type EngagementClassifier } from '../engagement/classify.js';
import type { HitRecorder, TrackingHit } from '../engagement/hit.js';
import { compileMachineRanges, type CompiledRanges, type MachineRangesFile } from '../engagement/machine-ranges.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { FIRST_PARTY_PROVIDER, type StoredHit } from '../store/hit-verdicts.js';
import type { IngestResult, Store } from '../store/types.js';
import type { EventBus } from './emitter.js';

export interface HitRecorderOptions {
  store: Store;
  /** The machine ranges hits are classified over (default: the shipped file); the classifier is built on them. */
  ranges?: MachineRangesFile | undefined;
  log: Logger;
  metrics: Metrics;
  now: () => number;
  /** Called after a batch commits, saying whether it queued outbound deliveries (the worker then looks for them). */
  afterCommit?: ((queued: boolean) => void) | undefined;
  bus: EventBus;
}

const STATUS = { open: 'opened', click: 'clicked', unsubscribe: 'unsubscribed' } as const;
const MAX_BATCH = 500;
/** Batches of one environment committing at once; later hits wait and join the next batch (group commit). */
const MAX_IN_FLIGHT = 2;
const MAX_ID_LENGTH = 255;
// User-Agent and Accept headers of any length arrive; what classification reads is at the start.
const MAX_HEADER = 1024;
const MAX_URL = 8192;

interface Pending {
  hit: TrackingHit;
  /** The hit as an event, made once: a batch stored again hit by hit stores the same event, under the same key. */
  event: ParsedEvent;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** The recorder as its owner holds it: `flush` before the store closes, so no queued hit is lost. */
export interface OwnedHitRecorder extends HitRecorder {
  /** Resolves once every hit recorded so far is stored or has failed (and was logged and counted). */
  flush(): Promise<void>;
}

interface Lane {
  queue: Pending[];
  inFlight: number;
  scheduled: boolean;
}

/**
 * Records first-party hits (issue 10) as events of their messages, through the store's ingest transaction like
 * provider events, so dedupe, correlation, message state, machine reclassification (store/hit-verdicts.ts), the
 * outbox and in-process events all see them. Hits of one environment that arrive together share one transaction
 * (group commit); each `record` resolves after that commit and rejects when it failed. A batch that fails is stored
 * again hit by hit, so a hit that cannot be stored fails alone. Hits of an environment that does not exist are
 * refused with `MT_ERR_NOT_FOUND`.
 *
 * A message the store has never seen (instrumented by `instrument()` and never registered) is created, origin
 * `first-party`, in the environment's built-in first-party integration (provider `mailtrail`); registering that id
 * later takes it over, hits included, as registrations take over provider-created messages.
 */
export function createHitRecorder(options: HitRecorderOptions): OwnedHitRecorder {
  const { store, log, metrics, now, bus } = options;
  const toEvent = hitEvents(options.ranges ?? SHIPPED_MACHINE_RANGES);
  const lanes = new Map<string, Lane>();
  // The first-party integration of each environment, once known (it is never deleted by Mailtrail itself).
  const integrations = new Map<string, Promise<string | null>>();
  // Hits queued or being stored, and who waits for there to be none (flush).
  let unsettled = 0;
  let idle: (() => void)[] = [];

  function settled(): void {
    if (--unsettled > 0) return;
    const waiting = idle;
    idle = [];
    for (const wake of waiting) wake();
  }

  function integrationOf(environmentId: string): Promise<string | null> {
    let known = integrations.get(environmentId);
    if (!known) {
      known = store.firstPartyIntegration(environmentId, now()).then((integration) => integration?.id ?? null);
      integrations.set(environmentId, known);
      // A refusal or a failure is not kept: the environment may be created, the database may come back.
      known.then(
        (id) => id === null && integrations.delete(environmentId),
        () => integrations.delete(environmentId),
      );
    }
    return known;
  }

  function schedule(environmentId: string, lane: Lane): void {
    if (lane.scheduled || lane.inFlight >= MAX_IN_FLIGHT || lane.queue.length === 0) return;
    lane.scheduled = true;
    // a batch is the hits that arrive in the same turn of the event loop, and those that arrive while an earlier
    // batch of the environment is committing
    setImmediate(() => {
      lane.scheduled = false;
      void flush(environmentId, lane);
    });
  }

  async function flush(environmentId: string, lane: Lane): Promise<void> {
    const group = lane.queue.splice(0, MAX_BATCH);
    if (group.length === 0) return;
    lane.inFlight++;
    try {
      const integrationId = await integrationOf(environmentId);
      if (integrationId === null) {
        for (const entry of group) fail(entry, new MailtrailError('MT_ERR_NOT_FOUND', `environment ${environmentId} does not exist`), 'refused');
        return;
      }
      try {
        await store_(environmentId, integrationId, group);
      } catch (error) {
        if (group.length === 1) {
          fail(group[0]!, error, 'failed');
          return;
        }
        // One transaction for all failed: each alone, so only the hits that cannot be stored fail.
        await Promise.all(group.map((entry) => store_(environmentId, integrationId, [entry]).catch((single: unknown) => fail(entry, single, 'failed'))));
      }
    } catch (error) {
      for (const entry of group) fail(entry, error, 'failed');
    } finally {
      lane.inFlight--;
      schedule(environmentId, lane);
      if (lane.queue.length === 0 && lane.inFlight === 0 && !lane.scheduled) lanes.delete(environmentId);
    }
  }

  async function store_(environmentId: string, integrationId: string, group: Pending[]): Promise<void> {
    const results = await store.ingest({
      environmentId,
      integrationId,
      provider: FIRST_PARTY_PROVIDER,
      receivedAt: now(),
      origin: 'first-party',
      events: group.map((entry) => entry.event),
      withMessages: bus.hasListeners(),
    });
    options.afterCommit?.(results.some((result) => result.deliveries > 0));
    for (const entry of group) {
      metrics.trackingHits.inc({ kind: entry.hit.kind, result: 'stored' });
      entry.resolve();
    }
    emit(results);
  }

  function emit(results: IngestResult[]): void {
    const byStatus = new Map<string, number>();
    for (const { event } of results) if (event.status !== null) byStatus.set(event.status, (byStatus.get(event.status) ?? 0) + 1);
    for (const [status, count] of byStatus) metrics.events.inc({ provider: FIRST_PARTY_PROVIDER, status }, count);
    if (!bus.hasListeners()) return;
    for (const { event, duplicate, message } of results) {
      if (!duplicate && event.status !== null) bus.emit({ type: `email.${event.status}`, event, message });
    }
  }

  function fail(entry: Pending, error: unknown, result: 'failed' | 'refused'): void {
    metrics.trackingHits.inc({ kind: entry.hit.kind, result });
    if (result === 'failed') {
      log.error({ err: error, kind: entry.hit.kind, environmentId: entry.hit.environmentId, messageId: entry.hit.messageId }, 'a tracking hit could not be stored');
    }
    entry.reject(isMailtrailError(error) ? error : new MailtrailError('MT_ERR_STORAGE_UNAVAILABLE', 'the hit could not be stored; retry later', { cause: error }));
  }

  return {
    record(hit: TrackingHit): Promise<void> {
      const invalid =
        typeof hit.messageId !== 'string' || hit.messageId === '' || hit.messageId.length > MAX_ID_LENGTH
          ? `a message id is 1 to ${MAX_ID_LENGTH} characters`
          : !(hit.kind in STATUS)
            ? `unknown kind of hit: ${String(hit.kind)}`
            : !Number.isSafeInteger(hit.occurredAt) || hit.occurredAt < 0
              ? 'occurredAt must be epoch milliseconds'
              : null;
      if (invalid !== null) {
        metrics.trackingHits.inc({ kind: String(hit.kind), result: 'refused' });
        return Promise.reject(new MailtrailError('MT_ERR_VALIDATION', invalid));
      }
      return new Promise<void>((resolve, reject) => {
        let lane = lanes.get(hit.environmentId);
        if (!lane) {
          lane = { queue: [], inFlight: 0, scheduled: false };
          lanes.set(hit.environmentId, lane);
        }
        unsettled++;
        // A hit is settled once, whichever comes first (a batch retried hit by hit can end in both).
        let done = false;
        const settle = () => !done && ((done = true), settled(), true);
        lane.queue.push({ hit, event: toEvent(hit), resolve: () => settle() && resolve(), reject: (error) => settle() && reject(error) });
        schedule(hit.environmentId, lane);
      });
    },
    flush(): Promise<void> {
      return unsettled === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
    },
  };
}

/**
 * Turns hits into events, over these machine ranges. An event's verdict is the hit's in a neutral context (no
 * delivery known, no other hit), which the store revises in the ingest transaction as soon as it knows more; its raw
 * payload is the hit as stored (StoredHit), with the range its full address fell in instead of the address.
 */
export function hitEvents(ranges: MachineRangesFile): (hit: TrackingHit) => ParsedEvent {
  const classify: EngagementClassifier = createClassifier({ ranges });
  const table: CompiledRanges = compileMachineRanges(ranges);
  return (hit) => {
    const network = table.lookup(hit.ip) ?? null;
    const stored: StoredHit = {
      method: hit.method,
      userAgent: hit.userAgent.slice(0, MAX_HEADER),
      accept: hit.headers.accept.slice(0, MAX_HEADER),
      acceptLanguage: hit.headers['accept-language'].slice(0, MAX_HEADER),
      ip: hit.storedIp,
      linkIndex: hit.linkIndex,
      url: hit.url === null ? null : hit.url.slice(0, MAX_URL),
      network: network === null ? null : { role: network.role, owner: network.owner },
    };
    const verdict =
      hit.kind === 'unsubscribe'
        ? null
        : classify(
            { kind: hit.kind, method: hit.method === 'HEAD' ? 'HEAD' : 'GET', userAgent: stored.userAgent, ip: hit.ip, headers: { accept: stored.accept, 'accept-language': stored.acceptLanguage } },
            { secondsAfterDelivery: null, secondsAfterSend: null, linkIndex: hit.linkIndex, sameMessageHitsWithin2s: 0 },
          );
    return {
      status: STATUS[hit.kind],
      nativeType: hit.kind,
      occurredAt: hit.occurredAt,
      // Each hit is an event of its own (a mail client loading the pixel twice opened the message twice), and its
      // key is made once: when a commit's outcome is unclear and the hit is stored again, the store finds it. Keys
      // that sort by time are appended to the dedupe index rather than scattered through it.
      dedupeKey: newId('hit', hit.occurredAt),
      mailtrailId: hit.messageId,
      ...(stored.url !== null ? { url: stored.url } : {}),
      ...(stored.userAgent !== '' ? { userAgent: stored.userAgent } : {}),
      ...(hit.storedIp !== null ? { ip: hit.storedIp } : {}),
      ...(verdict?.machine ? { machine: true } : {}),
      ...(verdict?.kind ? { machineKind: verdict.kind } : {}),
      ...(verdict?.reason ? { machineReason: verdict.reason } : {}),
      raw: JSON.stringify(stored),
    };
  };
}
