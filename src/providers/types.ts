import type { ParsedEvent } from '../core/event.js';
import type { ErrorCode } from '../core/errors.js';
import type { StatusMapping } from '../core/status-mapping.js';

/** What an adapter sees of the request: the exact bytes, the headers (lower-case names) and the URL. */
export interface InboundRequest {
  rawBody: Buffer;
  headers: ReadonlyMap<string, string>;
  /**
   * The URL the provider was given: `PUBLIC_URL` plus the request's path and query, without credentials.
   * Mandrill signs it.
   */
  url: string;
  contentType: string;
  /** When the request arrived, epoch ms; adapters use it instead of the clock so tests can pin time. */
  receivedAt: number;
  /** The integration's settings (see ProviderAdapter.checkSettings); `{}` when none are set. */
  settings: Readonly<Record<string, unknown>>;
  /**
   * The integration's status mapping; absent means `contract`. Adapters whose provider the contract's status tables
   * cover map the events those tables list as the tables say, unless this is `precise`.
   */
  statusMapping?: StatusMapping | undefined;
}

export type VerifyFailure = { ok: false; code: ErrorCode; reason: string };

export type VerifyResult =
  | {
      ok: true;
      /**
       * A value the provider promises never to sign twice (Mailgun's `token`). The pipeline refuses a second
       * request that brings the same nonce with another body; the same body again is a retry, which is harmless.
       */
      nonce?: string | undefined;
    }
  | VerifyFailure;

/** Outbound calls an adapter may make while verifying or answering a handshake (SNS certificates and confirmations). */
export interface ProviderContext {
  /** A GET to a provider's own host; the adapter checks the host before calling. */
  fetchText(url: string): Promise<{ status: number; body: string }>;
  /** A certificate by URL, from MAILTRAIL_SNS_CERT_DIR or the network, cached. */
  certificate(url: string): Promise<string>;
}

/** A request that carries no events but must be answered (an SNS subscription handshake). */
export interface Handshake {
  kind: 'subscription_confirmed' | 'subscription_confirmation_failed' | 'unsubscribed';
  /** e.g. the SNS TopicArn. */
  topic: string | null;
  detail: string;
  /**
   * How a failed confirmation is answered: `MT_ERR_SUBSCRIBE_URL_INVALID` when its URL is not one Mailtrail may
   * fetch (bad input: sending it again cannot help), `MT_ERR_PROVIDER_UNREACHABLE` (the default) when the provider
   * was asked and did not confirm, which is worth retrying.
   */
  code?: ErrorCode | undefined;
}

/**
 * How a provider proves a request is its own:
 * - `signature`: a signature over the request, checked with the integration's signing key. With no key set, the
 *   request needs the environment's API key or an integration created with `allowUnsigned`.
 * - `certificate`: a signature the adapter checks with a certificate it fetches itself (SNS); no key to set.
 * - `credentials`: the provider does not sign. Mailtrail generates Basic-auth credentials for the integration,
 *   part of its inbound URL, and refuses requests without them.
 * - `apiKey`: the caller is the team's own code (the `generic` provider): the environment's API key is required.
 */
export type AuthScheme = 'signature' | 'certificate' | 'credentials' | 'apiKey';

/**
 * One provider: how to check that a request came from it, and how to read its events.
 * Adding a provider means one file exporting one of these, and one line in `registry.ts`.
 */
export interface ProviderAdapter {
  id: string;
  displayName: string;
  /** Content types the provider posts; a request with any other is refused with 415. */
  contentTypes: readonly string[];
  auth: AuthScheme;
  /** For `signature` providers: checks a key at configuration time; returns an error message for a key that can never verify. */
  checkSigningKey?(key: string): string | null;
  /**
   * Checks an integration's settings at configuration time (also when none are given, so a provider can require
   * some); returns an error message, or null when they are usable.
   */
  checkSettings?(settings: Record<string, unknown>): string | null;
  /**
   * Verifies the request over the raw bytes. `signature` providers are called only when the integration has a
   * key; `certificate` providers always, with `null`.
   */
  verify?(request: InboundRequest, signingKey: string | null, context: ProviderContext): VerifyResult | Promise<VerifyResult>;
  /**
   * Answers a verified request that holds no events (SNS subscription handshakes); returns null for an ordinary
   * request, which then goes to `parse`.
   */
  handshake?(request: InboundRequest, context: ProviderContext): Promise<Handshake | null>;
  /** Reads every event of a verified request. Throws `MT_ERR_INVALID_BODY` for a body it cannot read. */
  parse(request: InboundRequest): ParsedEvent[];
  /**
   * The form in which this provider's events name a message id returned by its send API, when the two differ
   * (Mailgun: the send response has `<id>`, events have `id`). Applied to ids registered with `POST /v1/messages`.
   */
  normalizeMessageId?(id: string): string;
}
