import { standardWebhooksSignature } from '../providers/standard-webhooks.js';
import type { WebhookEndpoint } from '../store/types.js';

/**
 * The headers of one outbound request: the endpoint's static headers, then Standard Webhooks' (`webhook-id`, this
 * attempt's `webhook-timestamp`, one `v1` signature per live key) and the attempt number, which is not signed.
 */
export function outboundHeaders(endpoint: WebhookEndpoint, keys: Buffer[], id: string, attempt: number, body: string, now: number): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return {
    ...endpoint.headers,
    'content-type': 'application/json',
    'user-agent': 'Mailtrail-Webhooks/1',
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': keys.map((key) => standardWebhooksSignature(key, id, timestamp, body)).join(' '),
    'mailtrail-attempt': String(attempt),
  };
}
