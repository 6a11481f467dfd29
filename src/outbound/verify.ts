import { MailtrailError } from '../core/errors.js';
import { verifyStandardWebhook } from '../providers/standard-webhooks.js';

/** The body Mailtrail posts to an endpoint. */
export interface WebhookPayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

/**
 * For receivers that use this package: checks a request from Mailtrail (Standard Webhooks: `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`, five minutes of tolerance, any of several signatures during a
 * rotation) and returns the parsed body. Throws `MailtrailError` (MT_ERR_SIGNATURE_*) otherwise.
 *
 * @example
 * ```ts
 * app.post('/mailtrail', express.raw({ type: 'application/json' }), (req, res) => {
 *   const event = verifyWebhook(process.env.MAILTRAIL_WEBHOOK_SECRET!, req.headers, req.body);
 *   res.sendStatus(204);
 * });
 * ```
 */
export function verifyWebhook(
  secret: string,
  headers: Headers | Record<string, string | string[] | undefined>,
  rawBody: string | Buffer,
  now: number = Date.now(),
): WebhookPayload {
  const map = new Map<string, string>();
  if (headers instanceof Headers) headers.forEach((value, name) => map.set(name.toLowerCase(), value));
  else for (const [name, value] of Object.entries(headers)) if (value !== undefined) map.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value);
  const body = typeof rawBody === 'string' ? Buffer.from(rawBody) : rawBody;
  const result = verifyStandardWebhook(map, body, secret, now);
  if (!result.ok) throw new MailtrailError(result.code, result.reason);
  return JSON.parse(body.toString('utf8')) as WebhookPayload;
}
