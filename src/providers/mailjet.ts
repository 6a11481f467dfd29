import type { ParsedEvent } from '../core/event.js';
import type { BounceType, Status } from '../core/vocabulary.js';
import { bounded, fromUnixSeconds, mailtrailIdFrom, mapped, rawDedupeKey, recipientOf, text } from './fields.js';
import { jsonObjects } from './json-array.js';
import type { ProviderAdapter } from './types.js';

const STATUS_BY_EVENT: Record<string, Status> = {
  // "Dispatched when the destination SMTP server … has accepted the message" (Mailjet Event API docs).
  sent: 'delivered',
  open: 'opened',
  click: 'clicked',
  bounce: 'bounced',
  spam: 'complaint',
  blocked: 'blocked',
  unsub: 'unsubscribed',
};

/**
 * Mailjet Event API (`eventcallbackurl`). Version 1 posts one event object; Version 2 groups the events of the
 * last second into a JSON array. Both are accepted whatever the callback's version. Mailjet does not sign; the
 * pipeline checks the Basic-auth credentials of the integration's URL.
 */
export const mailjet = {
  id: 'mailjet',
  displayName: 'Mailjet',
  contentTypes: ['application/json'],
  auth: 'credentials' as const,

  parse(request) {
    return jsonObjects(request.rawBody.toString('utf8')).map(({ value, raw }) => parseEvent(value, raw, request.receivedAt));
  },
} satisfies ProviderAdapter;

function parseEvent(event: Record<string, unknown>, raw: string, receivedAt: number): ParsedEvent {
  const nativeType = text(event.event) ?? '';
  const status = mapped(STATUS_BY_EVENT, nativeType) ?? null;
  return {
    status,
    nativeType: nativeType || '(none)',
    occurredAt: fromUnixSeconds(event.time, receivedAt),
    // Mailjet events carry no event id. `MessageID` + `event` + `time` is not one either: two clicks on two
    // links in the same second share it. The exact event text is, and a retry repeats it byte for byte.
    dedupeKey: rawDedupeKey(raw),
    providerMessageId: bounded(messageIdOf(event, raw)),
    mailtrailId: mailtrailIdOf(event),
    recipient: recipientOf(event.email),
    bounceType: status === 'bounced' || status === 'blocked' ? bounceTypeOf(event) : undefined,
    reason: reasonOf(event),
    url: text(event.url),
    userAgent: text(event.agent),
    ip: text(event.ip),
    raw,
  };
}

/**
 * `MessageID` is a JSON number, and Mailjet's ids are beyond 2^53 (the docs' samples: 19421777835146490), where
 * a JavaScript number can no longer hold every integer. The id is read as written in the raw text instead.
 * Grouped (Version 2) events may carry only the deprecated string `mj_message_id`.
 */
function messageIdOf(event: Record<string, unknown>, raw: string): string | undefined {
  const value = event.MessageID;
  if (typeof value === 'number') return topLevelNumberText(raw, 'MessageID') ?? (Number.isSafeInteger(value) ? String(value) : undefined);
  return text(value) ?? text(event.mj_message_id);
}

/** Our id travels as `mailtrail_id` in the send-time `EventPayload` (a JSON string), or as the whole `CustomID`. */
function mailtrailIdOf(event: Record<string, unknown>): string | undefined {
  const payload = event.Payload;
  let fromPayload: string | undefined;
  if (typeof payload === 'string' && payload.trimStart().startsWith('{')) {
    try {
      fromPayload = mailtrailIdFrom(JSON.parse(payload));
    } catch {
      fromPayload = undefined;
    }
  } else {
    fromPayload = mailtrailIdFrom(payload);
  }
  return fromPayload ?? bounded(text(event.CustomID)?.trim());
}

function bounceTypeOf(event: Record<string, unknown>): BounceType {
  if (event.event === 'blocked') return 'block';
  if (event.hard_bounce === true) return 'hard';
  if (event.hard_bounce === false) return 'soft';
  return 'undetermined';
}

/** `error_related_to` + `error` (Mailjet's error table), then the SMTP text (`comment`, `smtp_reply`), then a complaint's `source`. */
function reasonOf(event: Record<string, unknown>): string | undefined {
  const error = text(event.error);
  const relatedTo = text(event.error_related_to);
  const parts = [error && relatedTo ? `${relatedTo}: ${error}` : error, text(event.comment), text(event.smtp_reply), text(event.source)];
  const reason = parts.filter((part) => part !== undefined).join('; ');
  return reason === '' ? undefined : reason;
}

/**
 * The digits of a top-level number member of a JSON object text, as written. Walks the text once, skipping
 * strings and nested values, so a key of the same name inside a string or a nested object never matches.
 */
function topLevelNumberText(json: string, key: string): string | undefined {
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const char = json[i];
    if (char === '"') {
      const end = stringEnd(json, i);
      if (depth === 1) {
        const colon = /^\s*:\s*/.exec(json.slice(end + 1, end + 64));
        if (colon && json.slice(i + 1, end) === key) {
          return /^\d+(?=\s*[,}])/.exec(json.slice(end + 1 + colon[0].length))?.[0];
        }
      }
      i = end;
    } else if (char === '{' || char === '[') {
      depth++;
    } else if (char === '}' || char === ']') {
      depth--;
    }
  }
  return undefined;
}

/** Index of the quote that closes the string opening at `start`. */
function stringEnd(json: string, start: number): number {
  for (let i = start + 1; i < json.length; i++) {
    if (json[i] === '\\') i++;
    else if (json[i] === '"') return i;
  }
  return json.length;
}
