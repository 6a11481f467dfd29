import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { isMailtrailError, MailtrailError, type ErrorCode } from '../core/errors.js';
import { newId } from '../core/ids.js';
import type { Logger } from '../log.js';
import { isStorageUnavailable } from '../store/storage-errors.js';

/** The HTTP status of every error code: the only place that decides it. */
export const STATUS_BY_CODE: Record<ErrorCode, ContentfulStatusCode> = {
  MT_ERR_INVALID_BODY: 400,
  MT_ERR_BODY_TOO_DEEP: 400,
  MT_ERR_SUBSCRIBE_URL_INVALID: 400,
  MT_ERR_VALIDATION: 400,
  MT_ERR_UNKNOWN_PROVIDER: 400,
  MT_ERR_INVALID_CURSOR: 400,
  MT_ERR_UNAUTHORIZED: 401,
  MT_ERR_SIGNATURE_MISSING: 401,
  MT_ERR_SIGNATURE_INVALID: 401,
  MT_ERR_UNSIGNED_NOT_ALLOWED: 401,
  MT_ERR_SIGNATURE_EXPIRED: 401,
  MT_ERR_REPLAYED: 401,
  MT_ERR_CREDENTIALS_INVALID: 401,
  MT_ERR_FORBIDDEN: 403,
  MT_ERR_NOT_FOUND: 404,
  MT_ERR_INTEGRATION_NOT_FOUND: 404,
  MT_ERR_MESSAGE_NOT_FOUND: 404,
  MT_ERR_CONFLICT: 409,
  MT_ERR_IDEMPOTENCY_KEY_IN_FLIGHT: 409,
  MT_ERR_BODY_TOO_LARGE: 413,
  MT_ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  MT_ERR_IDEMPOTENCY_KEY_REUSED: 422,
  MT_ERR_CONFIG: 500,
  // The embedding app's body parser read the request first: a set-up error the sender cannot fix. A 5xx makes the
  // provider retry, so its events arrive once the app is fixed; a 4xx would have them dropped.
  MT_ERR_BODY_CONSUMED: 500,
  MT_ERR_INTERNAL: 500,
  MT_ERR_STORAGE_UNAVAILABLE: 503,
  MT_ERR_PROVIDER_UNREACHABLE: 502,
};

/** Seconds a caller is told to wait (`Retry-After`) when the database cannot be reached. */
export const STORAGE_RETRY_AFTER_SECONDS = 5;

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

/**
 * Turns any thrown error into the JSON error shape. Our own errors keep their message; anything else becomes a
 * generic 500 with a request id, and the details go to the log only.
 */
export function handleError(error: unknown, c: Context, log: Logger): Response {
  // a database restarting, failing over or out of reach, met by any route: 503, so the caller comes back
  if (!isMailtrailError(error) && isStorageUnavailable(error)) {
    return handleError(new MailtrailError('MT_ERR_STORAGE_UNAVAILABLE', 'the database is not reachable; retry later', { cause: error }), c, log);
  }
  if (error instanceof HTTPException && error.status < 500) return frameworkError(error, c, log);
  if (isMailtrailError(error)) {
    const status = STATUS_BY_CODE[error.code];
    // An outage answers every request 503 for as long as it lasts: a warning each, not an error each.
    if (error.code === 'MT_ERR_STORAGE_UNAVAILABLE') log.warn({ err: error.cause ?? error, code: error.code, path: c.req.path }, error.message);
    else if (status >= 500) log.error({ err: error.cause ?? error, code: error.code, path: c.req.path }, error.message);
    // The rest of an oversized body is not read for the app: the connection is not reused (see node-server.ts).
    const headers: Record<string, string> = error.code === 'MT_ERR_BODY_TOO_LARGE' ? { connection: 'close' } : {};
    // The database is down or failing: the caller (a provider, an operator) should come back shortly.
    if (error.code === 'MT_ERR_STORAGE_UNAVAILABLE') headers['retry-after'] = String(STORAGE_RETRY_AFTER_SECONDS);
    return c.json(errorBody(error.code, error.message), status, headers);
  }
  const requestId = newId('req');
  log.error({ err: error, requestId, path: c.req.path }, 'unhandled error');
  return c.json(errorBody('MT_ERR_INTERNAL', `internal error; quote request id ${requestId} when reporting it`), 500);
}

/** The code of a framework HTTPException (a validator's 400, a media-type check's 415), by its status. */
const CODE_BY_FRAMEWORK_STATUS: Partial<Record<number, ErrorCode>> = {
  400: 'MT_ERR_INVALID_BODY',
  401: 'MT_ERR_UNAUTHORIZED',
  403: 'MT_ERR_FORBIDDEN',
  404: 'MT_ERR_NOT_FOUND',
  409: 'MT_ERR_CONFLICT',
  413: 'MT_ERR_BODY_TOO_LARGE',
  415: 'MT_ERR_UNSUPPORTED_MEDIA_TYPE',
};

/** A 4xx the framework raised (before our code saw the request) keeps its status and gets a stable code. */
function frameworkError(error: HTTPException, c: Context, log: Logger): Response {
  const code = CODE_BY_FRAMEWORK_STATUS[error.status];
  if (!code) return c.json(errorBody('MT_ERR_VALIDATION', error.message || 'invalid request'), error.status);
  const contentType = c.req.header('content-type');
  const message =
    code === 'MT_ERR_UNSUPPORTED_MEDIA_TYPE'
      ? `${contentType ? `content-type "${contentType}"` : 'a body with no content-type'} is not accepted here; send application/json`
      : error.message;
  return handleError(new MailtrailError(code, message, { cause: error }), c, log);
}

export function notFound(c: Context): Response {
  return c.json(errorBody('MT_ERR_NOT_FOUND', `no route for ${c.req.method} ${c.req.path}`), 404);
}
