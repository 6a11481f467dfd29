import type { NormalizedEvent } from '../core/event.js';
import type { Status } from '../core/vocabulary.js';
import type { Logger } from '../log.js';
import type { Message } from '../store/types.js';
import { iso } from '../views/time.js';

/** The in-process event types: one per status, plus `*` for all of them. */
export type EmailEventType = `email.${Status}`;

/**
 * What a library handler receives, after the event is committed. The fields most handlers need sit at the top
 * level, as headless mailers hand them to their listeners; `event` and `message` hold everything else.
 */
export interface EmailEvent {
  type: EmailEventType;
  event: NormalizedEvent;
  /** The message after this event; null only when the store did not read it back. */
  message: Message | null;
  /** The event's recipient, else its message's; null when neither names one. */
  recipient: string | null;
  /** Mailtrail's id of the message (`event.messageId`). */
  messageId: string | null;
  /**
   * When it happened by the provider's (or, for first-party hits, Mailtrail's) clock, as an ISO 8601 string in UTC:
   * the form of `date` in the API and in outbound webhooks, and a value no handler can change for the next one.
   * `event.occurredAt` holds the same instant in epoch milliseconds.
   */
  occurredAt: string;
  /** True when a machine (a privacy proxy, an image cache, a link scanner, a bot) and not a person opened or clicked. */
  machine: boolean;
}

/** What the pipeline hands the bus: the rest of an `EmailEvent` is derived from it. */
export type CommittedEvent = Pick<EmailEvent, 'type' | 'event' | 'message'>;

export type EmailEventHandler = (payload: EmailEvent) => void | Promise<void>;

/**
 * Delivers committed events to in-process handlers. A handler that throws or rejects is logged and never
 * affects ingest or the other handlers: the events are already stored and acknowledged.
 */
export class EventBus {
  private readonly handlers = new Map<string, Set<EmailEventHandler>>();

  constructor(private readonly log: Logger) {}

  on(type: EmailEventType | '*', handler: EmailEventHandler): () => void {
    const set = this.handlers.get(type) ?? new Set();
    set.add(handler);
    this.handlers.set(type, set);
    return () => this.off(type, handler);
  }

  off(type: EmailEventType | '*', handler: EmailEventHandler): void {
    this.handlers.get(type)?.delete(handler);
  }

  hasListeners(): boolean {
    for (const set of this.handlers.values()) if (set.size > 0) return true;
    return false;
  }

  emit(committed: CommittedEvent): void {
    const handlers = [...(this.handlers.get(committed.type) ?? []), ...(this.handlers.get('*') ?? [])];
    if (handlers.length === 0) return;
    const { event, message } = committed;
    const payload: EmailEvent = {
      ...committed,
      recipient: event.recipient ?? message?.recipient ?? null,
      messageId: event.messageId,
      occurredAt: iso(event.occurredAt),
      machine: event.machine === true,
    };
    for (const handler of handlers) {
      try {
        const result = handler(payload);
        if (result && typeof result.then === 'function') result.then(undefined, (error: unknown) => this.report(payload, error));
      } catch (error) {
        this.report(payload, error);
      }
    }
  }

  private report(payload: EmailEvent, error: unknown): void {
    this.log.error({ err: error, type: payload.type, eventId: payload.event.id }, 'an in-process event handler failed');
  }
}
