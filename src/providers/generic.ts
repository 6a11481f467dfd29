import type { ParsedEvent } from '../core/event.js';
import { MailtrailError } from '../core/errors.js';
import { BOUNCE_TYPES, isStatus, type BounceType } from '../core/vocabulary.js';
import { attemptsOf, bounded, dedupeKey, fromIsoTime, rawDedupeKey, recipientOf, record, text } from './fields.js';
import { jsonObjects } from './json-array.js';
import type { InboundRequest, ProviderAdapter } from './types.js';

/**
 * Events already in Mailtrail's vocabulary, posted by the team's own code with the environment's API key: for a
 * provider Mailtrail does not ship, or an internal mail system. The shape is the inbound response's own
 * (`{ id, event: { status, date, externalId, attempts, response, row } }`), one object or an array, plus a few
 * optional fields: `recipient`, `mailtrailId`, `bounceType`, `url`, `userAgent`, `ip`, `machine`.
 * `id` is the caller's id for the event and makes retries harmless; without it the event's exact text is.
 */
export const generic = {
  id: 'generic',
  displayName: 'Generic (normalized events)',
  contentTypes: ['application/json'],
  auth: 'apiKey' as const,

  parse(request: InboundRequest): ParsedEvent[] {
    return jsonObjects(request.rawBody.toString('utf8')).map(({ value, raw }, index) => parseItem(value, raw, index));
  },
} satisfies ProviderAdapter;

function parseItem(outer: Record<string, unknown>, raw: string, index: number): ParsedEvent {
  const event = record(outer.event) ?? outer;
  const status = event.status;
  if (!isStatus(status)) throw invalid(index, 'has no status among sent, delivered, delayed, bounced, blocked, dropped, rejected, complaint, opened, clicked, unsubscribed');
  // A time without a zone would be read in this server's zone: refused rather than guessed.
  const occurredAt = typeof event.date === 'string' && /([zZ]|[+-]\d{2}:?\d{2})$/.test(event.date) ? fromIsoTime(event.date, Number.NaN) : Number.NaN;
  if (Number.isNaN(occurredAt)) throw invalid(index, 'has no date with a time zone (ISO 8601, e.g. 2026-11-22T10:00:00Z)');
  const bounceType = text(event.bounceType ?? outer.bounceType);
  if (bounceType !== undefined && !(BOUNCE_TYPES as readonly string[]).includes(bounceType)) throw invalid(index, `has bounceType "${bounceType}"; use ${BOUNCE_TYPES.join(', ')}`);
  const id = text(outer.id);
  const field = (name: string) => text(event[name] ?? outer[name]);
  const machine = (event.machine ?? outer.machine) === true;
  return {
    status,
    nativeType: status,
    occurredAt,
    dedupeKey: id ? dedupeKey(`id:${id}`) : rawDedupeKey(raw),
    providerMessageId: bounded(field('externalId')),
    mailtrailId: bounded(field('mailtrailId')),
    recipient: recipientOf(event.recipient ?? outer.recipient),
    bounceType: bounceType as BounceType | undefined,
    reason: field('response'),
    attempts: attemptsOf(event.attempts),
    url: field('url'),
    userAgent: field('userAgent'),
    ip: field('ip'),
    machine: machine || undefined,
    machineReason: machine ? 'reported by the sender' : undefined,
    raw,
  };
}

function invalid(index: number, problem: string): MailtrailError {
  return new MailtrailError('MT_ERR_INVALID_BODY', `event ${index} ${problem}`);
}
