/**
 * Every error Mailtrail reports to a caller. The code is stable and greppable; `src/http` maps it to a status.
 */
export const ERROR_CODES = [
  'MT_ERR_INVALID_BODY',
  'MT_ERR_BODY_TOO_DEEP',
  'MT_ERR_SUBSCRIBE_URL_INVALID',
  'MT_ERR_VALIDATION',
  'MT_ERR_UNAUTHORIZED',
  'MT_ERR_SIGNATURE_MISSING',
  'MT_ERR_SIGNATURE_INVALID',
  'MT_ERR_UNSIGNED_NOT_ALLOWED',
  'MT_ERR_SIGNATURE_EXPIRED',
  'MT_ERR_REPLAYED',
  'MT_ERR_CREDENTIALS_INVALID',
  'MT_ERR_FORBIDDEN',
  'MT_ERR_NOT_FOUND',
  'MT_ERR_INTEGRATION_NOT_FOUND',
  'MT_ERR_MESSAGE_NOT_FOUND',
  'MT_ERR_CONFLICT',
  'MT_ERR_IDEMPOTENCY_KEY_REUSED',
  'MT_ERR_IDEMPOTENCY_KEY_IN_FLIGHT',
  'MT_ERR_BODY_TOO_LARGE',
  'MT_ERR_UNSUPPORTED_MEDIA_TYPE',
  'MT_ERR_UNKNOWN_PROVIDER',
  'MT_ERR_INVALID_CURSOR',
  'MT_ERR_STORAGE_UNAVAILABLE',
  'MT_ERR_PROVIDER_UNREACHABLE',
  'MT_ERR_CONFIG',
  'MT_ERR_BODY_CONSUMED',
  'MT_ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** The one error type of Mailtrail. `message` is safe to show to the caller; `cause` is for the log only. */
export class MailtrailError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MailtrailError';
    this.code = code;
  }
}

export function isMailtrailError(error: unknown): error is MailtrailError {
  return error instanceof MailtrailError;
}
