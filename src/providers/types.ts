import type { ParsedEvent } from '../core/event.js';
import type { ErrorCode } from '../core/errors.js';

/** What an adapter sees of the request: the exact bytes, the headers (lower-case names) and the URL. */
export interface InboundRequest {
  rawBody: Buffer;
  headers: ReadonlyMap<string, string>;
  url: string;
  contentType: string;
  /** When the request arrived, epoch ms; adapters use it instead of the clock so tests can pin time. */
  receivedAt: number;
}

export type VerifyResult = { ok: true } | { ok: false; code: ErrorCode; reason: string };

/**
 * One provider: how to check that a request came from it, and how to read its events.
 * Adding a provider means one file exporting one of these, and one line in `registry.ts`.
 */
export interface ProviderAdapter {
  id: string;
  displayName: string;
  /** Content types the provider posts; a request with any other is refused with 415. */
  contentTypes: readonly string[];
  /** Checks a signing key at configuration time; returns an error message for a key that can never verify. */
  checkSigningKey(key: string): string | null;
  /** Verifies the request over the raw bytes. Called only when the integration has a signing key. */
  verify(request: InboundRequest, signingKey: string): VerifyResult;
  /** Reads every event of a verified request. Throws `MT_ERR_INVALID_BODY` for a body it cannot read. */
  parse(request: InboundRequest): ParsedEvent[];
}
