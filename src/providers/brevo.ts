import type { ParsedEvent } from '../core/event.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { bounded, fromIsoTime, fromUnixSeconds, mailtrailIdFrom, rawDedupeKey, recipientOf, text } from './fields.js';
import { jsonObjects } from './json-array.js';
import type { ProviderAdapter } from './types.js';

/**
 * Event names as posted (`hard_bounce`, `unique_opened`, …, developers.brevo.com/docs/transactional-webhooks)
 * and as subscribed to (`hardBounce`, `uniqueOpened`, …, npm @getbrevo/brevo@6.0.3 CreateWebhookRequest).
 */
const STATUS_BY_EVENT: Record<string, Status> = {
  // "request": Brevo accepted the send request and pushed the message for delivery.
  request: 'sent',
  sent: 'sent',
  delivered: 'delivered',
  deferred: 'delayed',
  hard_bounce: 'bounced',
  hardBounce: 'bounced',
  // A soft bounce is Brevo's report that this attempt failed for a temporary reason, not a retry notice
  // (that is `deferred`): it is a bounce, typed soft.
  soft_bounce: 'bounced',
  softBounce: 'bounced',
  blocked: 'blocked',
  spam: 'complaint',
  complaint: 'complaint',
  invalid: 'rejected',
  invalid_email: 'rejected',
  invalidEmail: 'rejected',
  error: 'rejected',
  click: 'clicked',
  clicked: 'clicked',
  opened: 'opened',
  open: 'opened',
  unique_opened: 'opened',
  uniqueOpened: 'opened',
  first_opening: 'opened',
  proxy_open: 'opened',
  proxyOpen: 'opened',
  unique_proxy_open: 'opened',
  uniqueProxyOpen: 'opened',
  unsubscribed: 'unsubscribed',
  unsubscribe: 'unsubscribed',
};

const BOUNCE_TYPE_BY_EVENT: Record<string, BounceType> = {
  hard_bounce: 'hard',
  hardBounce: 'hard',
  soft_bounce: 'soft',
  softBounce: 'soft',
  blocked: 'block',
};

/** Opens that Brevo itself reports as fetched by a privacy proxy (Apple Mail Privacy Protection and the like). */
const PROXY_OPENS = new Set(['proxy_open', 'proxyOpen', 'unique_proxy_open', 'uniqueProxyOpen']);

const PARIS_OFFSET = new Intl.DateTimeFormat('en-US', { timeZone: 'Europe/Paris', timeZoneName: 'longOffset' });

/**
 * Brevo (formerly Sendinblue) transactional webhooks: one event object per POST, or with `batched: true` a JSON
 * array of up to 500. Brevo does not sign; the pipeline checks the Basic-auth credentials of the integration's URL.
 */
export const brevo = {
  id: 'brevo',
  displayName: 'Brevo',
  contentTypes: ['application/json'],
  auth: 'credentials' as const,

  parse(request) {
    return jsonObjects(request.rawBody.toString('utf8')).map(({ value, raw }) => parseEvent(value, raw, request.receivedAt));
  },
} satisfies ProviderAdapter;

/**
 * First opens: Brevo's transactional webhooks offer "First Opening" (`unique_opened`) beside "Opened" (`opened`,
 * every open), and "Unique Proxy Open" beside "Proxy Open" (developers.brevo.com/docs/transactional-webhooks). A
 * webhook subscribed to both kinds is read as getting both for a first open; the first-open kinds are marked as
 * echoes, so a message counts the larger kind. Should Brevo send the first-open kind instead of the other, a
 * message's count would be one low, never double.
 */
const ECHO_OPENS = new Set(['unique_opened', 'uniqueOpened', 'first_opening', 'unique_proxy_open', 'uniqueProxyOpen']);

function parseEvent(event: Record<string, unknown>, raw: string, receivedAt: number): ParsedEvent {
  const nativeType = text(event.event) ?? '';
  const known = Object.hasOwn(STATUS_BY_EVENT, nativeType);
  const proxyOpen = PROXY_OPENS.has(nativeType);
  return {
    status: known ? STATUS_BY_EVENT[nativeType]! : null,
    nativeType: nativeType || '(none)',
    occurredAt: occurredAtOf(event, receivedAt),
    // `id` is the webhook's id, the same on every event it posts: Brevo events have no id of their own.
    dedupeKey: rawDedupeKey(raw),
    providerMessageId: bounded(messageIdOf(event)),
    mailtrailId: mailtrailIdOf(event),
    recipient: recipientOf(event.email),
    bounceType: known && Object.hasOwn(BOUNCE_TYPE_BY_EVENT, nativeType) ? BOUNCE_TYPE_BY_EVENT[nativeType] : undefined,
    reason: text(event.reason),
    url: text(event.link) ?? text(event.url),
    userAgent: text(event.user_agent),
    ip: text(event.ip),
    machine: proxyOpen ? true : undefined,
    machineReason: proxyOpen ? 'provider: proxy open' : undefined,
    ...(ECHO_OPENS.has(nativeType) ? { echo: true } : {}),
    raw,
  };
}

/**
 * The send API returns `messageId` as `<…@smtp-relay.mailin.fr>`; events name it in `message-id`, with or
 * without the brackets. Registered ids lose their brackets (POST /v1/messages), so events do too.
 */
function messageIdOf(event: Record<string, unknown>): string | undefined {
  const id = text(event['message-id']) ?? text(event.messageId) ?? text(event.message_id);
  return id?.trim().replace(/^<(.*)>$/, '$1') || undefined;
}

/**
 * Our id travels in the `X-Mailin-custom` header (a free string: JSON holding `mailtrail_id`, or
 * `mailtrail_id:…`), or as a tag `mailtrail_id:…`.
 */
function mailtrailIdOf(event: Record<string, unknown>): string | undefined {
  const custom = text(event['X-Mailin-custom']) ?? text(event['x-mailin-custom']);
  const tags = Array.isArray(event.tags) ? event.tags : [event.tag];
  for (const candidate of [custom, ...tags.map((tag) => text(tag))]) {
    const id = candidate === undefined ? undefined : idFromCustom(candidate);
    if (id !== undefined) return id;
  }
  return undefined;
}

function idFromCustom(custom: string): string | undefined {
  if (custom.trimStart().startsWith('{')) {
    try {
      return mailtrailIdFrom(JSON.parse(custom));
    } catch {
      // not JSON after all: read it as text
    }
  }
  return bounded(/(?:^|[\s|;,&])mailtrail_id\s*[:=]\s*([^\s|;,&"]+)/.exec(custom)?.[1]);
}

/**
 * `ts_event` is "time stamp in seconds GMT of when event occurred". `ts` is documented as the same, but the
 * marketing docs' sample puts it an hour after `ts_event`, so it is second choice. `date` is last: it has no
 * offset and the docs give it in CET/CEST.
 */
function occurredAtOf(event: Record<string, unknown>, receivedAt: number): number {
  const fromTsEvent = fromUnixSeconds(event.ts_event, Number.NaN);
  if (!Number.isNaN(fromTsEvent)) return fromTsEvent;
  const fromTs = fromUnixSeconds(event.ts, Number.NaN);
  if (!Number.isNaN(fromTs)) return fromTs;
  return fromParisWallTime(event.date, receivedAt);
}

function fromParisWallTime(value: unknown, fallback: number): number {
  const match = typeof value === 'string' ? /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})$/.exec(value.trim()) : null;
  if (!match) return fromIsoTime(value, fallback);
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(year, month - 1, day, hour, minute, second);
  // The offset in force an hour before the wall time read as UTC: right except within the hour of a change.
  const offset = /GMT([+-])(\d{2}):(\d{2})/.exec(PARIS_OFFSET.formatToParts(wall - 3_600_000).find((part) => part.type === 'timeZoneName')?.value ?? '');
  const offsetMs = offset ? (offset[1] === '-' ? -1 : 1) * (Number(offset[2]) * 60 + Number(offset[3])) * 60_000 : 0;
  return fromIsoTime(new Date(wall - offsetMs).toISOString(), fallback);
}
