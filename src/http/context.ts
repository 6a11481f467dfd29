import type { AttemptResponse } from '../outbound/sender.js';
import type { WebhookEndpoint } from '../store/types.js';
import type { EndpointService } from '../outbound/endpoints.js';
import type { InboundDeps } from '../ingest/inbound.js';
import type { HitRecorder } from '../engagement/hit.js';
import type { IpStorage } from '../engagement/client-ip.js';
import type { TrackingSwitches } from '../engagement/instrument-message.js';
import type { TrackingTokens } from '../engagement/tokens.js';
import type { ConfiguredProviders } from '../service/configured-providers.js';
import type { DefaultEnvironment } from '../service/default-environment.js';

/** What the HTTP layer needs from a running Mailtrail. */
export interface AppContext extends InboundDeps {
  publicUrl: string;
  endpoints: EndpointService;
  /** Sends a signed test event to an endpoint now, outside the outbox. */
  sendTestEvent: (endpoint: WebhookEndpoint) => Promise<AttemptResponse>;
  /** Records first-party hits (the /track/* routes): group-committed, classified, stored like provider events. */
  hits: HitRecorder;
  /** First-party tracking: what the instrumenting API and the /track/* routes need. */
  tracking: TrackingSettings;
  /** The integrations configured in code, and the environment URLs without one serve (`/track/webhook/:providerId`). */
  configuredProviders: ConfiguredProviders;
  defaultEnvironment: DefaultEnvironment;
}

export interface TrackingSettings {
  tokens: TrackingTokens;
  /** The base of tracking URLs, without a trailing slash. */
  baseUrl: string;
  /** Proxies whose forwarding headers are believed (MAILTRAIL_TRUST_PROXY). */
  trustedProxies: { has(address: string): boolean };
  ipStorage: IpStorage;
  /** The instance's defaults, under an environment's own (PATCH /v1/environment) and a request's. */
  defaults: TrackingSwitches;
}

/** Hono variables set by the API-key middleware. */
export interface AppEnv {
  Variables: { environmentId: string };
}
