import type { EventOrigin, NormalizedEvent, ParsedEvent } from '../core/event.js';
import type { MessageState } from '../core/message-state.js';
import type { StatusMapping } from '../core/status-mapping.js';
import type { Status } from '../core/vocabulary.js';

export interface Environment {
  id: string;
  name: string;
  createdAt: number;
  /** This environment's defaults for first-party tracking (PATCH /v1/environment); absent ones are the server's. */
  tracking?: EnvironmentTracking | undefined;
}

export interface EnvironmentTracking {
  opens?: boolean | undefined;
  clicks?: boolean | undefined;
  unsubscribe?: boolean | undefined;
}

export interface Integration {
  id: string;
  environmentId: string;
  provider: string;
  name: string;
  activityTracking: boolean;
  allowUnsigned: boolean;
  /** Encrypted with the master key; the store never sees the clear text. */
  signingKeyEnc: string | null;
  credentialsEnc: string | null;
  /** Options that are not secret, read by the provider's adapter (e.g. `topicArns` for Amazon SES). */
  settings: Record<string, unknown>;
  /** How the provider's native events map to statuses (see StatusMapping). */
  statusMapping: StatusMapping;
  createdAt: number;
  updatedAt: number;
}

/** Something that happened to an integration besides events, such as an SNS subscription being confirmed. */
export interface IntegrationNotice {
  id: string;
  environmentId: string;
  integrationId: string;
  kind: string;
  topic: string | null;
  detail: string;
  createdAt: number;
}

/** An outbound webhook endpoint (secrets sealed: the store never sees them in clear). */
export interface WebhookEndpoint {
  id: string;
  environmentId: string;
  url: string;
  description: string | null;
  eventTypes: string[];
  enabled: boolean;
  headers: Record<string, string>;
  /** Requests per second, or null for no limit. */
  rateLimit: number | null;
  secretEnc: string;
  /** The secret before the last rotation, still signed with until `previousSecretUntil`. */
  previousSecretEnc: string | null;
  previousSecretUntil: number | null;
  disabledReason: string | null;
  failingSince: number | null;
  createdAt: number;
  updatedAt: number;
}

export type WebhookDeliveryStatus = 'pending' | 'succeeded' | 'failed';

/** One event on its way to one endpoint (the outbox row). */
export interface Delivery {
  id: string;
  environmentId: string;
  endpointId: string;
  eventId: string;
  messageId: string | null;
  eventType: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  nextAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface DeliveryFilter {
  status?: WebhookDeliveryStatus | undefined;
  eventType?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface DeliveryAttempt {
  deliveryId: string;
  attempt: number;
  startedAt: number;
  durationMs: number;
  statusCode: number | null;
  /** The first 4 KB of the response body. */
  responseBody: string | null;
  error: string | null;
}

/** What an attempt says about its endpoint: it answered 2xx, it failed, or it answered 410 Gone. */
export type EndpointHealth = 'succeeded' | 'failed' | 'gone';

/** An endpoint whose every attempt has failed for this long is disabled, as the attempt that shows it is recorded. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3600_000;
export const DISABLED_GONE = 'the endpoint answered 410 Gone';
export const DISABLED_FAILING = 'every attempt failed for 5 days';

/** One attempt to record, with its outcome and, when a request was made, what it says about the endpoint. */
export interface AttemptRecord {
  attempt: DeliveryAttempt;
  outcome: DeliveryOutcome;
  endpointId: string;
  health: EndpointHealth | null;
}

/**
 * What `Store.claimDeliveries` takes. `retries` due retries are taken first (the worker's share for them, so a
 * flood of fresh deliveries cannot starve them), then fresh deliveries, then retries again for what is left;
 * `freshOnly` leaves the retries' lane alone.
 */
export interface ClaimInput {
  now: number;
  limit: number;
  leaseUntil: number;
  retries?: number | undefined;
  freshOnly?: boolean | undefined;
}

/** A leased delivery with what its request is made of (see `Store.claimDeliveries`). */
export interface ClaimedDelivery {
  delivery: Delivery;
  endpoint: WebhookEndpoint | null;
  event: NormalizedEvent | null;
  message: Message | null;
}

/** What an attempt changes on its delivery: done (succeeded or failed for good) or due again at nextAttemptAt. */
export interface DeliveryOutcome {
  status: WebhookDeliveryStatus;
  nextAttemptAt: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
}

/** `new`: first use; `retry`: the same nonce with the same body again; `replay`: the same nonce with another body. */
export type NonceClaim = 'new' | 'retry' | 'replay';

/**
 * How a message became known: registered through the API, created by a provider's event, or created by a
 * first-party hit (a message instrumented by `instrument()` and never registered).
 */
export type MessageOrigin = 'api' | 'provider' | 'first-party';

export interface Message {
  id: string;
  environmentId: string;
  integrationId: string | null;
  provider: string | null;
  providerMessageId: string | null;
  recipient: string | null;
  from: string | null;
  subject: string | null;
  tags: string[];
  metadata: Record<string, unknown>;
  workflowRunId: string | null;
  stepRunId: string | null;
  origin: MessageOrigin;
  createdAt: number;
  updatedAt: number;
  state: MessageState;
}

export interface NewMessage {
  environmentId: string;
  integrationId: string;
  provider: string;
  /** Our id; generated when absent. */
  id?: string | undefined;
  /** Absent for a message registered before it is sent; set later with `patch`. */
  providerMessageId?: string | undefined;
  recipient: string;
  from?: string | undefined;
  subject?: string | undefined;
  tags?: string[] | undefined;
  metadata?: Record<string, unknown> | undefined;
  workflowRunId?: string | undefined;
  stepRunId?: string | undefined;
  /**
   * Rewrites the registered message `id` with these values (PATCH /v1/messages/:id) instead of treating a second
   * registration as a conflict; a message that events created for the new provider id merges into it.
   */
  patch?: boolean | undefined;
}

export type RegisterResult =
  | { outcome: 'created' | 'merged' | 'unchanged'; message: Message }
  | { outcome: 'conflict'; reason: string };

export interface Page<T> {
  data: T[];
  next: string | null;
}

export interface MessageFilter {
  status?: Status | undefined;
  recipient?: string | undefined;
  integrationId?: string | undefined;
  providerMessageId?: string | undefined;
  tag?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  q?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

export interface EventFilter {
  status?: Status | undefined;
  recipient?: string | undefined;
  integrationId?: string | undefined;
  providerMessageId?: string | undefined;
  messageId?: string | undefined;
  nativeType?: string | undefined;
  includeIgnored?: boolean | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** One batch from one integration, already verified and parsed. */
export interface IngestBatch {
  environmentId: string;
  integrationId: string;
  provider: string;
  receivedAt: number;
  events: ParsedEvent[];
  /**
   * `first-party`: hits of Mailtrail's own pixel, links and unsubscribe URL. Their `mailtrailId` comes from an
   * authenticated token, so it is followed to the message in whichever integration holds it, and each event is
   * stored under that message's integration; `integrationId` (the environment's first-party integration) is where a
   * message never seen is created, with origin `first-party`. Default `provider`.
   */
  origin?: EventOrigin | undefined;
  /** Set to false when nobody needs each result's message: the results then skip building it. */
  withMessages?: boolean | undefined;
}

export interface IngestResult {
  event: NormalizedEvent;
  /** True when the event was already stored (a provider retry or a replayed batch). */
  duplicate: boolean;
  message: Message | null;
  /** How many outbound deliveries this batch queued for the event (0 for a duplicate, or when no endpoint wants it). */
  deliveries: number;
}

export type IdempotencyClaim =
  | { state: 'claimed' }
  | { state: 'replay'; response: string }
  | { state: 'mismatch' }
  | { state: 'in_flight' };

/**
 * Everything Mailtrail keeps, behind one interface with a SQLite and a PostgreSQL implementation.
 * Every method is scoped by environment: an id from another environment is simply not found.
 */
export interface Store {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;

  createEnvironment(input: { id: string; name: string; createdAt: number }): Promise<Environment>;
  getEnvironment(id: string): Promise<Environment | null>;
  listEnvironments(): Promise<Environment[]>;
  /** Sets the given switches of an environment's tracking defaults; null when there is no such environment. */
  setEnvironmentTracking(id: string, tracking: EnvironmentTracking): Promise<Environment | null>;
  createApiKey(input: { id: string; environmentId: string; name: string; keyHash: string; keyPrefix: string; createdAt: number }): Promise<void>;
  /** The environment an API key (given by its hash) belongs to. */
  findEnvironmentByKeyHash(keyHash: string): Promise<string | null>;

  createIntegration(integration: Integration): Promise<Integration>;
  getIntegration(environmentId: string, id: string): Promise<Integration | null>;
  listIntegrations(environmentId: string): Promise<Integration[]>;
  updateIntegration(environmentId: string, id: string, patch: Partial<Omit<Integration, 'id' | 'environmentId' | 'provider' | 'createdAt'>>): Promise<Integration | null>;
  deleteIntegration(environmentId: string, id: string): Promise<boolean>;

  /** Registers a sent message; merges into a message already created from provider events. */
  registerMessage(input: NewMessage, now: number): Promise<RegisterResult>;
  getMessage(environmentId: string, id: string): Promise<Message | null>;
  listMessages(environmentId: string, filter: MessageFilter): Promise<Page<Message>>;
  listMessageEvents(environmentId: string, messageId: string): Promise<NormalizedEvent[]>;
  listEvents(environmentId: string, filter: EventFilter): Promise<Page<NormalizedEvent>>;

  /** Stores a batch in one transaction: dedupe, correlate, insert, update message state. */
  ingest(batch: IngestBatch): Promise<IngestResult[]>;
  /**
   * The environment's built-in first-party integration (provider `mailtrail`), created on first need: one per
   * environment, even when concurrent callers ask at once. Null when the environment does not exist.
   */
  firstPartyIntegration(environmentId: string, now: number): Promise<Integration | null>;

  claimIdempotencyKey(input: { environmentId: string; integrationId: string; key: string; bodyHash: string; now: number }): Promise<IdempotencyClaim>;
  /**
   * Stores the response of a claimed key. Written after the events commit: if this write is lost, the key frees
   * itself after its lease and a retry answers the same, because the events are deduplicated.
   */
  completeIdempotencyKey(input: { environmentId: string; integrationId: string; key: string; response: string }): Promise<void>;
  releaseIdempotencyKey(input: { environmentId: string; integrationId: string; key: string }): Promise<void>;
  pruneIdempotencyKeys(olderThan: number): Promise<number>;

  /**
   * Records a provider's single-use value (see VerifyResult.nonce), bound to the body it came with, within a scope
   * (the fingerprint of the key that signed it).
   */
  claimNonce(input: { scope: string; nonce: string; bodyHash: string; now: number }): Promise<NonceClaim>;
  pruneNonces(olderThan: number): Promise<number>;

  createEndpoint(endpoint: WebhookEndpoint): Promise<WebhookEndpoint>;
  getEndpoint(environmentId: string, id: string): Promise<WebhookEndpoint | null>;
  listEndpoints(environmentId: string): Promise<WebhookEndpoint[]>;
  updateEndpoint(environmentId: string, id: string, patch: Partial<Omit<WebhookEndpoint, 'id' | 'environmentId' | 'createdAt'>>): Promise<WebhookEndpoint | null>;
  deleteEndpoint(environmentId: string, id: string): Promise<boolean>;
  listDeliveries(environmentId: string, endpointId: string, filter: DeliveryFilter): Promise<Page<Delivery>>;
  getDelivery(environmentId: string, id: string): Promise<{ delivery: Delivery; attempts: DeliveryAttempt[] } | null>;
  /**
   * Leases up to `limit` due deliveries until `leaseUntil`, fresh ones (no attempt yet) before retries, so a
   * backlog of retries never holds up new events. On PostgreSQL rows other workers hold are skipped. Each comes with
   * what its request is made of, read in the same step: its endpoint, its event and its message (null when gone).
   */
  claimDeliveries(input: ClaimInput): Promise<ClaimedDelivery[]>;
  /**
   * Records attempts and their outcomes in one transaction (one commit for many attempts), each only if the lease
   * is still this worker's (the attempt number matches); returns, for each, whether it was recorded. In the same
   * step, the recorded attempts' endpoints: a 2xx clears `failingSince`; a failure sets it when unset, and disables
   * the endpoint once it is `DISABLE_AFTER_FAILING_MS` old; a 410 disables it. Worked out on the rows as they are,
   * so workers holding older copies of an endpoint cannot undo one another.
   */
  recordAttempts(records: AttemptRecord[], now: number): Promise<boolean[]>;
  /**
   * Gives a claimed delivery back, due at `until`, without counting an attempt; only while the lease is still the
   * one this worker was given (`leaseUntil`), so a delivery another worker has claimed since is left alone.
   */
  postponeDelivery(id: string, leaseUntil: number, until: number): Promise<void>;
  /** Deliveries due now, and when the oldest of them became due (null when none is). */
  outboxStats(now: number): Promise<{ due: number; oldestDueAt: number | null }>;
  /** Makes a finished delivery due now again (its attempt count goes on); false when it is still pending. */
  retryDelivery(environmentId: string, id: string, now: number): Promise<boolean>;
  /** Makes every failed delivery of an endpoint created since `since` due again; returns how many. */
  recoverDeliveries(environmentId: string, endpointId: string, since: number, now: number): Promise<number>;

  addIntegrationNotice(notice: IntegrationNotice): Promise<void>;
  listIntegrationNotices(environmentId: string, integrationId: string, limit: number): Promise<IntegrationNotice[]>;
}
