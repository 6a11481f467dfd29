/**
 * Errors that say the database cannot be reached right now, rather than that a statement is wrong: a restart, a
 * failover, a network blip. A caller should come back shortly (503), and a worker should wait and try again.
 */

/** Socket errors from connecting to the server or losing the connection to it. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * SQLSTATEs of a server going away or not taking connections yet: 57P01 admin_shutdown (`pg_ctl stop -m fast`),
 * 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down, in recovery), 53300
 * too_many_connections, and 25006 read_only_sql_transaction, which is what writes get from a primary that has just
 * become a standby in a failover. Class 08 (connection exceptions) is matched by its prefix.
 */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300', '25006']);

/**
 * node-postgres reports a lost or timed-out connection as a plain Error with only a message: "Connection terminated
 * unexpectedly", "Connection terminated due to connection timeout", "timeout exceeded when trying to connect" (the
 * pool's connectionTimeoutMillis), "Client has encountered a connection error and is not queryable".
 */
const DRIVER_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/** True when `error` (or what it wraps) says the database is unreachable for now, not that the request is wrong. */
export function isStorageUnavailable(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  const { code, message, cause, errors } = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code))) return true;
  if (typeof message === 'string' && DRIVER_MESSAGES.test(message)) return true;
  // a connection to a host name with several addresses fails with an AggregateError of each attempt's error
  if (Array.isArray(errors) && errors.some((inner) => isStorageUnavailable(inner, depth + 1))) return true;
  return isStorageUnavailable(cause, depth + 1);
}
