import type { BounceType, Status } from './vocabulary.js';

/**
 * What fetched a pixel or a link when it was not a person reading or clicking (the machine classifier's kinds).
 * `image-proxy` is also given with `machine: false`: a person's open through a webmail proxy.
 */
export type MachineKind = 'apple-mpp' | 'image-proxy' | 'link-scanner' | 'prefetch' | 'bot';

/** Who observed an event: the email provider (a webhook), or Mailtrail itself (its pixel, links and unsubscribe URL). */
export type EventOrigin = 'provider' | 'first-party';

/**
 * One provider event in Mailtrail's vocabulary, as produced by a provider adapter before it is stored.
 * The store adds the ids (`id`, `messageId`) and `receivedAt`.
 */
export interface ParsedEvent {
  /** `null` when the native type has no mapping: the event is kept as ignored, never dropped. */
  status: Status | null;
  nativeType: string;
  /** Provider's own time for the event, in epoch milliseconds. */
  occurredAt: number;
  /** Idempotency key within the integration; a provider's event id where it has one. */
  dedupeKey: string;
  providerMessageId?: string | undefined;
  /** Our message id when the sender passed it through the provider's metadata channel (`mailtrail_id`). */
  mailtrailId?: string | undefined;
  recipient?: string | undefined;
  bounceType?: BounceType | undefined;
  reason?: string | undefined;
  attempts?: number | undefined;
  url?: string | undefined;
  userAgent?: string | undefined;
  ip?: string | undefined;
  machine?: boolean | undefined;
  /** What the machine was, for first-party hits (the classifier's kind); providers' flags say none. */
  machineKind?: MachineKind | undefined;
  machineReason?: string | undefined;
  /**
   * An open the provider also reports under another type: SparkPost's top-pixel `initial_open` beside `open`,
   * Brevo's `unique_opened` beside `opened`. A message counts the larger of the two kinds, never their sum, so an
   * account that sends both counts each open once and one that sends either kind alone still counts its opens.
   */
  echo?: boolean | undefined;
  /** The provider's event exactly as received (a JSON text). */
  raw: string;
}

/** A stored event (DESIGN §4). Timestamps are epoch milliseconds. */
export interface NormalizedEvent extends ParsedEvent {
  id: string;
  environmentId: string;
  integrationId: string;
  provider: string;
  origin: EventOrigin;
  /** `null` only for events that are stored and left unattached (ignored types with no known message). */
  messageId: string | null;
  receivedAt: number;
  ignored: boolean;
}
