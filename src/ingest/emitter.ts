import type { NormalizedEvent } from '../core/event.js';
import type { Status } from '../core/vocabulary.js';
import type { Logger } from '../log.js';
import type { Message } from '../store/types.js';

/** The in-process event types: one per status, plus `*` for all of them. */
export type EmailEventType = `email.${Status}`;

/** What a library handler receives, after the event is committed. */
export interface EmailEvent {
  type: EmailEventType;
  event: NormalizedEvent;
  message: Message | null;
}

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

  emit(payload: EmailEvent): void {
    for (const handler of [...(this.handlers.get(payload.type) ?? []), ...(this.handlers.get('*') ?? [])]) {
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
