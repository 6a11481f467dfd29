import type { AttemptResponse } from '../outbound/sender.js';
import type { WebhookEndpoint } from '../store/types.js';
import type { EndpointService } from '../outbound/endpoints.js';
import type { InboundDeps } from '../ingest/inbound.js';

/** What the HTTP layer needs from a running Mailtrail. */
export interface AppContext extends InboundDeps {
  publicUrl: string;
  endpoints: EndpointService;
  /** Sends a signed test event to an endpoint now, outside the outbox. */
  sendTestEvent: (endpoint: WebhookEndpoint) => Promise<AttemptResponse>;
}

/** Hono variables set by the API-key middleware. */
export interface AppEnv {
  Variables: { environmentId: string };
}
