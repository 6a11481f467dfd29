/**
 * A request to a first-party tracking URL, as the HTTP layer hands it to the recorder (issue 10). The recorder
 * classifies it (machine or person), stores it as an event of its message through the same ingest path as provider
 * events, and folds it into the message's order-independent state.
 */
export interface TrackingHit {
  kind: 'open' | 'click' | 'unsubscribe';
  environmentId: string;
  messageId: string;
  /** The link's place in the message (clicks), as sealed in the token. */
  linkIndex: number | null;
  /** The URL the click redirected to. */
  url: string | null;
  /** When the hit arrived, epoch milliseconds. */
  occurredAt: number;
  method: 'GET' | 'HEAD' | 'POST';
  /** "" when the request had none. */
  userAgent: string;
  /** The client's full address, for classification only. */
  ip: string;
  /** What may be stored of it (MAILTRAIL_IP_STORAGE): the address, its network, or null. */
  storedIp: string | null;
  /** "" when the request did not carry the header. */
  headers: { accept: string; 'accept-language': string };
}

/** Records hits. Concurrent hits share one commit; `record` resolves once this one is durable, and rejects if not. */
export interface HitRecorder {
  record(hit: TrackingHit): Promise<void>;
}
