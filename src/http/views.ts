import type { NormalizedEvent } from '../core/event.js';
import type { AuthScheme } from '../providers/types.js';
import type { InboundCredentials } from '../service/integrations.js';
import type { Integration, IntegrationNotice, Message } from '../store/types.js';

// The public JSON of stored objects: ISO times, no secrets, `null` for missing values.

export function inboundWebhookUrl(integration: Pick<Integration, 'environmentId' | 'id'>, publicUrl: string): string {
  return `${publicUrl}/v2/inbound-webhooks/delivery-providers/${integration.environmentId}/${integration.id}`;
}

/** The URL with the credentials in it (`https://user:password@host/…`), for providers that take Basic auth that way. */
export function authenticatedWebhookUrl(url: string, credentials: InboundCredentials): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(credentials.username);
  parsed.password = encodeURIComponent(credentials.password);
  return parsed.toString();
}

export function integrationView(integration: Integration, publicUrl: string, authScheme: AuthScheme, credentials: InboundCredentials | null = null) {
  const url = inboundWebhookUrl(integration, publicUrl);
  return {
    id: integration.id,
    providerId: integration.provider,
    name: integration.name,
    activityTracking: integration.activityTracking,
    allowUnsigned: integration.allowUnsigned,
    authScheme,
    hasSigningKey: integration.signingKeyEnc !== null,
    hasCredentials: integration.credentialsEnc !== null,
    settings: integration.settings,
    inboundWebhookUrl: url,
    ...(credentials ? { credentials: { ...credentials }, authenticatedWebhookUrl: authenticatedWebhookUrl(url, credentials) } : {}),
    createdAt: iso(integration.createdAt),
    updatedAt: iso(integration.updatedAt),
  };
}

export function noticeView(notice: IntegrationNotice) {
  return { id: notice.id, kind: notice.kind, topic: notice.topic, detail: notice.detail, createdAt: iso(notice.createdAt) };
}

export function messageView(message: Message) {
  const { state } = message;
  return {
    id: message.id,
    integrationId: message.integrationId,
    providerId: message.provider,
    providerMessageId: message.providerMessageId,
    to: message.recipient,
    from: message.from,
    subject: message.subject,
    tags: message.tags,
    metadata: message.metadata,
    workflowRunId: message.workflowRunId,
    stepRunId: message.stepRunId,
    origin: message.origin,
    status: state.status,
    state: {
      status: state.status,
      bounceType: state.outcome?.bounceType ?? null,
      reason: state.outcome?.reason ?? null,
      statusAt: isoOrNull(state.outcome?.occurredAt ?? null),
      opens: state.opens,
      clicks: state.clicks,
      humanOpens: state.humanOpens,
      humanClicks: state.humanClicks,
      firstOpenedAt: isoOrNull(state.firstOpenedAt),
      lastOpenedAt: isoOrNull(state.lastOpenedAt),
      firstClickedAt: isoOrNull(state.firstClickedAt),
      lastClickedAt: isoOrNull(state.lastClickedAt),
      complained: state.complained,
      complainedAt: isoOrNull(state.complainedAt),
      unsubscribed: state.unsubscribed,
      unsubscribedAt: isoOrNull(state.unsubscribedAt),
      firstEventAt: isoOrNull(state.firstEventAt),
      lastEventAt: isoOrNull(state.lastEventAt),
      eventCount: state.eventCount,
    },
    createdAt: iso(message.createdAt),
    updatedAt: iso(message.updatedAt),
  };
}

export function eventView(event: NormalizedEvent) {
  return {
    id: event.id,
    messageId: event.messageId,
    integrationId: event.integrationId,
    providerId: event.provider,
    status: event.status,
    ignored: event.ignored,
    nativeType: event.nativeType,
    occurredAt: iso(event.occurredAt),
    receivedAt: iso(event.receivedAt),
    providerMessageId: event.providerMessageId ?? null,
    recipient: event.recipient ?? null,
    bounceType: event.bounceType ?? null,
    reason: event.reason ?? null,
    attempts: event.attempts ?? null,
    url: event.url ?? null,
    userAgent: event.userAgent ?? null,
    ip: event.ip ?? null,
    machine: event.machine ?? false,
    machineReason: event.machineReason ?? null,
    echo: event.echo ?? false,
    raw: parseRaw(event.raw),
  };
}

function parseRaw(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function iso(time: number): string {
  return new Date(time).toISOString();
}

function isoOrNull(time: number | null): string | null {
  return time === null ? null : iso(time);
}
