import type { NormalizedEvent } from '../core/event.js';
import { nestsDeeperThan } from '../core/json-depth.js';
import type { Message } from '../store/types.js';
import { iso, isoOrNull } from './time.js';

// The public JSON of messages and events, shared by the API, outbound payloads and the CLI: ISO times, `null` for
// missing values. It lives below both src/http and src/outbound, so that neither depends on the other.

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
      firstHumanOpenAt: isoOrNull(state.firstHumanOpenAt),
      firstHumanClickAt: isoOrNull(state.firstHumanClickAt),
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
    origin: event.origin,
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
    machineKind: event.machineKind ?? null,
    machineReason: event.machineReason ?? null,
    echo: event.echo ?? false,
    raw: parseRaw(event.raw),
  };
}

/**
 * The provider's event as JSON. Text that is not JSON, or that nests deeper than ingest accepts (stored before the
 * bound existed), is returned as the stored string: re-serializing it could throw, and one such event would make
 * every page of the feed that holds it unreadable.
 */
function parseRaw(raw: string): unknown {
  if (nestsDeeperThan(raw)) return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}
