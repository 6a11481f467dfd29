import type { EndpointService } from '../outbound/endpoints.js';
import type { InboundDeps } from '../ingest/inbound.js';

/** What the HTTP layer needs from a running Mailtrail. */
export interface AppContext extends InboundDeps {
  publicUrl: string;
  endpoints: EndpointService;
}

/** Hono variables set by the API-key middleware. */
export interface AppEnv {
  Variables: { environmentId: string };
}
