import type { Generated } from 'kysely';

/** Database tables as Kysely sees them. Times are epoch milliseconds, booleans are 0/1 on both dialects. */
export interface Database {
  environments: EnvironmentTable;
  api_keys: ApiKeyTable;
  integrations: IntegrationTable;
  messages: MessageTable;
  message_tags: MessageTagTable;
  events: EventTable;
  idempotency_keys: IdempotencyKeyTable;
  inbound_nonces: InboundNonceTable;
  integration_notices: IntegrationNoticeTable;
  webhook_endpoints: WebhookEndpointTable;
  deliveries: DeliveryTable;
  delivery_attempts: DeliveryAttemptTable;
}

export interface EnvironmentTable {
  id: string;
  name: string;
  created_at: number;
  /** JSON of the environment's own tracking defaults (EnvironmentTracking); null when it has none. */
  tracking?: string | null;
}

export interface ApiKeyTable {
  id: string;
  environment_id: string;
  name: string;
  key_hash: string;
  key_prefix: string;
  created_at: number;
}

export interface IntegrationTable {
  id: string;
  environment_id: string;
  provider: string;
  name: string;
  activity_tracking: number;
  allow_unsigned: number;
  signing_key_enc: string | null;
  credentials_enc: string | null;
  settings: string;
  status_mapping: string;
  created_at: number;
  updated_at: number;
}

export interface MessageTable {
  environment_id: string;
  id: string;
  integration_id: string | null;
  provider: string | null;
  provider_message_id: string | null;
  recipient: string | null;
  from_address: string | null;
  subject: string | null;
  tags: string;
  metadata: string;
  workflow_run_id: string | null;
  step_run_id: string | null;
  origin: string;
  created_at: number;
  updated_at: number;
  /**
   * 1 for the message created while its integration had no other with its provider id. A unique index allows one
   * per provider id, so two transactions that each found none cannot both create one (see correlate.ts).
   */
  first_with_provider_id: number;
  status: string | null;
  outcome_status: string | null;
  outcome_at: number | null;
  outcome_event_id: string | null;
  outcome_bounce_type: string | null;
  outcome_reason: string | null;
  opens: number;
  clicks: number;
  human_opens: number;
  human_clicks: number;
  /** Opens by kind (MessageState.mainOpens …): `opens` and `human_opens` are the larger of each pair. */
  main_opens: number;
  echo_opens: number;
  main_human_opens: number;
  echo_human_opens: number;
  first_opened_at: number | null;
  last_opened_at: number | null;
  first_clicked_at: number | null;
  last_clicked_at: number | null;
  first_human_opened_at: number | null;
  first_human_clicked_at: number | null;
  /** First-party opens and clicks (MessageState.firstPartyHits): a message with none is never reclassified. */
  first_party_hits: number;
  first_hit_at: number | null;
  last_hit_at: number | null;
  first_delivered_at: number | null;
  first_sent_at: number | null;
  complained_at: number | null;
  unsubscribed_at: number | null;
  first_event_at: number | null;
  last_event_at: number | null;
  event_count: number;
}

export interface MessageTagTable {
  environment_id: string;
  message_id: string;
  tag: string;
}

export interface EventTable {
  id: string;
  environment_id: string;
  integration_id: string;
  message_id: string | null;
  provider: string;
  status: string | null;
  native_type: string;
  ignored: number;
  occurred_at: number;
  received_at: number;
  provider_message_id: string | null;
  recipient: string | null;
  dedupe_key: string;
  bounce_type: string | null;
  reason: string | null;
  attempts: number | null;
  url: string | null;
  user_agent: string | null;
  ip: string | null;
  machine: number;
  /** The classifier's kind for a first-party hit (apple-mpp, link-scanner, …); null for provider events. */
  machine_kind: string | null;
  /**
   * For a first-party open or click: how many other hits of its message came less than 2 s before or after it,
   * counted up to BURST_CAP (store/hit-verdicts.ts); null for every other event.
   */
  burst: number | null;
  machine_reason: string | null;
  /** `provider` (a webhook) or `first-party` (Mailtrail's own pixel, links and unsubscribe URL). */
  origin: string;
  /** 1 for an open the provider also reports under another type (ParsedEvent.echo). */
  echo: number;
  raw: string;
}

export interface IdempotencyKeyTable {
  environment_id: string;
  integration_id: string;
  key: string;
  body_hash: string;
  state: string;
  response: string | null;
  created_at: number;
  seq?: Generated<number>;
}

export interface InboundNonceTable {
  scope: string;
  nonce: string;
  body_hash: string;
  created_at: number;
}

export interface IntegrationNoticeTable {
  id: string;
  environment_id: string;
  integration_id: string;
  kind: string;
  topic: string | null;
  detail: string;
  created_at: number;
}

export interface WebhookEndpointTable {
  id: string;
  environment_id: string;
  url: string;
  description: string | null;
  /** JSON array of event types (`email.<status>`, the aliases, or `*`). */
  event_types: string;
  enabled: number;
  /** JSON object of static headers sent with every request. */
  headers: string;
  rate_limit: number | null;
  secret_enc: string;
  previous_secret_enc: string | null;
  previous_secret_until: number | null;
  disabled_reason: string | null;
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveryTable {
  id: string;
  environment_id: string;
  endpoint_id: string;
  event_id: string;
  message_id: string | null;
  event_type: string;
  /** `pending` (due at next_attempt_at), `succeeded` or `failed`. */
  status: string;
  attempts: number;
  next_attempt_at: number | null;
  lease_until: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export interface DeliveryAttemptTable {
  delivery_id: string;
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  response_body: string | null;
  error: string | null;
}

export type MessageRow = MessageTable;
export type EventRow = EventTable;
export type DeliveryRow = DeliveryTable;
export type WebhookEndpointRow = WebhookEndpointTable;
