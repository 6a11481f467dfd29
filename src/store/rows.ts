import { nestsDeeperThan } from '../core/json-depth.js';
import type { EventOrigin, MachineKind, NormalizedEvent } from '../core/event.js';
import { DEFAULT_STATUS_MAPPING, isStatusMapping } from '../core/status-mapping.js';
import { EMPTY_STATE, type MessageState, type StateEvent } from '../core/message-state.js';
import type { BounceType, DeliveryStatus, Status } from '../core/vocabulary.js';
import type { DeliveryRow, EventRow, IntegrationTable, MessageRow, WebhookEndpointTable } from './schema.js';
import type { Delivery, Integration, Message, MessageOrigin, WebhookDeliveryStatus, WebhookEndpoint } from './types.js';

// Row <-> domain mapping, shared by both dialects. Missing values are NULL in the database and `null` or
// absent in the domain; a provider-created message with no recipient is stored with '' so the unique index holds.

export function integrationFromRow(row: IntegrationTable): Integration {
  return {
    id: row.id,
    environmentId: row.environment_id,
    provider: row.provider,
    name: row.name,
    activityTracking: Boolean(row.activity_tracking),
    allowUnsigned: Boolean(row.allow_unsigned),
    signingKeyEnc: row.signing_key_enc,
    credentialsEnc: row.credentials_enc,
    settings: parseObject(row.settings),
    statusMapping: isStatusMapping(row.status_mapping) ? row.status_mapping : DEFAULT_STATUS_MAPPING,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

/**
 * A stored JSON object (integration settings, message metadata). One nested deeper than any write now accepts can
 * only predate that bound: it reads as `{}` (the stored text is kept as it is), because serializing it again for a
 * response would run out of stack and make every list holding it unreadable.
 */
function parseObject(text: string): Record<string, unknown> {
  if (nestsDeeperThan(text)) return {};
  const value: unknown = JSON.parse(text);
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

export function integrationToRow(integration: Integration): IntegrationTable {
  return {
    id: integration.id,
    environment_id: integration.environmentId,
    provider: integration.provider,
    name: integration.name,
    activity_tracking: integration.activityTracking ? 1 : 0,
    allow_unsigned: integration.allowUnsigned ? 1 : 0,
    signing_key_enc: integration.signingKeyEnc,
    credentials_enc: integration.credentialsEnc,
    settings: JSON.stringify(integration.settings),
    status_mapping: integration.statusMapping,
    created_at: integration.createdAt,
    updated_at: integration.updatedAt,
  };
}

export function messageFromRow(row: MessageRow): Message {
  return {
    id: row.id,
    environmentId: row.environment_id,
    integrationId: row.integration_id,
    provider: row.provider,
    providerMessageId: row.provider_message_id,
    recipient: row.recipient === '' ? null : row.recipient,
    from: row.from_address,
    subject: row.subject,
    tags: JSON.parse(row.tags) as string[],
    metadata: parseObject(row.metadata),
    workflowRunId: row.workflow_run_id,
    stepRunId: row.step_run_id,
    origin: row.origin as MessageOrigin,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    state: stateFromRow(row),
  };
}

export function stateFromRow(row: MessageRow): MessageState {
  return {
    status: row.status as DeliveryStatus | null,
    outcome:
      row.outcome_status === null
        ? null
        : {
            status: row.outcome_status as DeliveryStatus,
            occurredAt: Number(row.outcome_at),
            eventId: row.outcome_event_id ?? '',
            bounceType: row.outcome_bounce_type as BounceType | null,
            reason: row.outcome_reason,
          },
    opens: Number(row.opens),
    clicks: Number(row.clicks),
    humanOpens: Number(row.human_opens),
    humanClicks: Number(row.human_clicks),
    mainOpens: Number(row.main_opens),
    echoOpens: Number(row.echo_opens),
    mainHumanOpens: Number(row.main_human_opens),
    echoHumanOpens: Number(row.echo_human_opens),
    firstOpenedAt: nullableNumber(row.first_opened_at),
    lastOpenedAt: nullableNumber(row.last_opened_at),
    firstClickedAt: nullableNumber(row.first_clicked_at),
    lastClickedAt: nullableNumber(row.last_clicked_at),
    firstHumanOpenAt: nullableNumber(row.first_human_opened_at),
    firstHumanClickAt: nullableNumber(row.first_human_clicked_at),
    firstPartyHits: Number(row.first_party_hits),
    firstHitAt: nullableNumber(row.first_hit_at),
    lastHitAt: nullableNumber(row.last_hit_at),
    firstDeliveredAt: nullableNumber(row.first_delivered_at),
    firstSentAt: nullableNumber(row.first_sent_at),
    complained: row.complained_at !== null,
    complainedAt: nullableNumber(row.complained_at),
    unsubscribed: row.unsubscribed_at !== null,
    unsubscribedAt: nullableNumber(row.unsubscribed_at),
    firstEventAt: nullableNumber(row.first_event_at),
    lastEventAt: nullableNumber(row.last_event_at),
    eventCount: Number(row.event_count),
  };
}

/** The state columns of a message row, for an update. */
export function stateToColumns(state: MessageState): Pick<
  MessageRow,
  | 'status'
  | 'outcome_status'
  | 'outcome_at'
  | 'outcome_event_id'
  | 'outcome_bounce_type'
  | 'outcome_reason'
  | 'opens'
  | 'clicks'
  | 'human_opens'
  | 'human_clicks'
  | 'main_opens'
  | 'echo_opens'
  | 'main_human_opens'
  | 'echo_human_opens'
  | 'first_opened_at'
  | 'last_opened_at'
  | 'first_clicked_at'
  | 'last_clicked_at'
  | 'first_human_opened_at'
  | 'first_human_clicked_at'
  | 'first_party_hits'
  | 'first_hit_at'
  | 'last_hit_at'
  | 'first_delivered_at'
  | 'first_sent_at'
  | 'complained_at'
  | 'unsubscribed_at'
  | 'first_event_at'
  | 'last_event_at'
  | 'event_count'
> {
  return {
    status: state.status,
    outcome_status: state.outcome?.status ?? null,
    outcome_at: state.outcome?.occurredAt ?? null,
    outcome_event_id: state.outcome?.eventId ?? null,
    outcome_bounce_type: state.outcome?.bounceType ?? null,
    outcome_reason: state.outcome?.reason ?? null,
    opens: state.opens,
    clicks: state.clicks,
    human_opens: state.humanOpens,
    human_clicks: state.humanClicks,
    main_opens: state.mainOpens,
    echo_opens: state.echoOpens,
    main_human_opens: state.mainHumanOpens,
    echo_human_opens: state.echoHumanOpens,
    first_opened_at: state.firstOpenedAt,
    last_opened_at: state.lastOpenedAt,
    first_clicked_at: state.firstClickedAt,
    last_clicked_at: state.lastClickedAt,
    first_human_opened_at: state.firstHumanOpenAt,
    first_human_clicked_at: state.firstHumanClickAt,
    first_party_hits: state.firstPartyHits,
    first_hit_at: state.firstHitAt,
    last_hit_at: state.lastHitAt,
    first_delivered_at: state.firstDeliveredAt,
    first_sent_at: state.firstSentAt,
    complained_at: state.complainedAt,
    unsubscribed_at: state.unsubscribedAt,
    first_event_at: state.firstEventAt,
    last_event_at: state.lastEventAt,
    event_count: state.eventCount,
  };
}

export function eventFromRow(row: EventRow): NormalizedEvent {
  return {
    id: row.id,
    environmentId: row.environment_id,
    integrationId: row.integration_id,
    provider: row.provider,
    origin: row.origin as EventOrigin,
    messageId: row.message_id,
    status: row.status as Status | null,
    nativeType: row.native_type,
    ignored: Boolean(row.ignored),
    occurredAt: Number(row.occurred_at),
    receivedAt: Number(row.received_at),
    providerMessageId: row.provider_message_id ?? undefined,
    recipient: row.recipient ?? undefined,
    dedupeKey: row.dedupe_key,
    bounceType: (row.bounce_type as BounceType | null) ?? undefined,
    reason: row.reason ?? undefined,
    attempts: row.attempts === null ? undefined : Number(row.attempts),
    url: row.url ?? undefined,
    userAgent: row.user_agent ?? undefined,
    ip: row.ip ?? undefined,
    machine: Boolean(row.machine),
    machineKind: (row.machine_kind as MachineKind | null) ?? undefined,
    machineReason: row.machine_reason ?? undefined,
    ...(row.echo ? { echo: true } : {}),
    raw: row.raw,
  };
}


/** The event columns the state reducer reads. */
export type StateEventRow = Pick<EventRow, 'id' | 'status' | 'occurred_at' | 'machine' | 'echo' | 'origin' | 'bounce_type' | 'reason'>;

/** What the state reducer needs of a stored event. */
export function stateEventFromRow(row: StateEventRow): StateEvent {
  return {
    id: row.id,
    status: row.status as Status | null,
    occurredAt: Number(row.occurred_at),
    machine: Boolean(row.machine),
    echo: Boolean(row.echo),
    firstParty: row.origin === 'first-party',
    bounceType: row.bounce_type as BounceType | null,
    reason: row.reason,
  };
}

/** The message columns that hold its derived state, in a fixed order. */
export const STATE_COLUMNS = Object.keys(stateToColumns(EMPTY_STATE)) as (keyof ReturnType<typeof stateToColumns>)[];

function nullableNumber(value: number | null): number | null {
  return value === null ? null : Number(value);
}

export function endpointFromRow(row: WebhookEndpointTable): WebhookEndpoint {
  return {
    id: row.id,
    environmentId: row.environment_id,
    url: row.url,
    description: row.description,
    eventTypes: JSON.parse(row.event_types) as string[],
    enabled: Boolean(row.enabled),
    headers: JSON.parse(row.headers) as Record<string, string>,
    rateLimit: row.rate_limit === null ? null : Number(row.rate_limit),
    secretEnc: row.secret_enc,
    previousSecretEnc: row.previous_secret_enc,
    previousSecretUntil: nullableNumber(row.previous_secret_until),
    disabledReason: row.disabled_reason,
    failingSince: nullableNumber(row.failing_since),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}

export function endpointToRow(endpoint: WebhookEndpoint): WebhookEndpointTable {
  return {
    id: endpoint.id,
    environment_id: endpoint.environmentId,
    url: endpoint.url,
    description: endpoint.description,
    event_types: JSON.stringify(endpoint.eventTypes),
    enabled: endpoint.enabled ? 1 : 0,
    headers: JSON.stringify(endpoint.headers),
    rate_limit: endpoint.rateLimit,
    secret_enc: endpoint.secretEnc,
    previous_secret_enc: endpoint.previousSecretEnc,
    previous_secret_until: endpoint.previousSecretUntil,
    disabled_reason: endpoint.disabledReason,
    failing_since: endpoint.failingSince,
    created_at: endpoint.createdAt,
    updated_at: endpoint.updatedAt,
  };
}

export function deliveryFromRow(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    environmentId: row.environment_id,
    endpointId: row.endpoint_id,
    eventId: row.event_id,
    messageId: row.message_id,
    eventType: row.event_type,
    status: row.status as WebhookDeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: nullableNumber(row.next_attempt_at),
    lastStatusCode: row.last_status_code === null ? null : Number(row.last_status_code),
    lastError: row.last_error,
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
  };
}
