import type { ParsedEvent } from '../core/event.js';
import { MailtrailError } from '../core/errors.js';
import { DEFAULT_STATUS_MAPPING, type StatusMapping } from '../core/status-mapping.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { InboundRequest, VerifyResult } from '../providers/types.js';
import type { Integration, Store } from '../store/types.js';
import type { IntegrationService } from './integrations.js';

/**
 * One integration given in `createMailtrail({ providers: { <key>: … } })`. The key names it; it is the provider's id
 * unless `provider` says otherwise (two integrations of one provider need two keys).
 */
export interface ConfiguredProvider {
  /** The provider's id (`resend`, `sendgrid`, …, or a custom one); default: the key. */
  provider?: string | undefined;
  /** The provider's verification key, for providers that sign (Resend's `whsec_…`, SendGrid's public key, …). */
  signingKey?: string | null | undefined;
  /** Default: the provider's name. Stored with a mark that tells Mailtrail it is configured in code. */
  name?: string | undefined;
  /** Accept unsigned requests while no signing key is set (not recommended). */
  allowUnsigned?: boolean | undefined;
  statusMapping?: StatusMapping | undefined;
  /** The provider's settings, e.g. `{ topicArns: [...] }` for Amazon SES. */
  settings?: Record<string, unknown> | undefined;
  activityTracking?: boolean | undefined;
  /** The environment it belongs to; default every environment of this instance. */
  environmentId?: string | undefined;
  /**
   * For a provider Mailtrail does not ship: reads a request's raw body into events (see `Mailtrail.registerParser`,
   * which this registers under the provider's id).
   */
  parse?: ((request: InboundRequest) => ParsedEvent[]) | undefined;
  /** With `parse`: checks a request with the signing key. */
  verify?: ((request: InboundRequest, signingKey: string) => VerifyResult | Promise<VerifyResult>) | undefined;
  /** With `parse`: the content types it posts; default `application/json`. */
  contentTypes?: readonly string[] | undefined;
  /** With `parse`: its display name; default the provider's id. */
  displayName?: string | undefined;
}

const KEY = /^[A-Za-z0-9_-]{1,40}$/;

/** The mark at the end of the name of an integration configured in code under `key`: how the next start finds it. */
const mark = (key: string) => ` [configured in code: ${key}]`;

/**
 * The integrations of `createMailtrail({ providers })`: created in their environment (or in every environment) on
 * start, and brought in line with the configuration on every start after that (name, signing key, settings, status
 * mapping, switches), like the endpoints of `webhooks`. An integration is found again by the mark in its name, so a
 * restart, or another node starting on the same database, never makes a second one.
 */
export class ConfiguredProviders {
  private readonly configs: [string, ConfiguredProvider][];

  constructor(
    private readonly store: Store,
    private readonly integrations: IntegrationService,
    private readonly registry: ProviderRegistry,
    configs: Record<string, ConfiguredProvider>,
  ) {
    this.configs = Object.entries(configs);
    for (const [key] of this.configs) {
      if (!KEY.test(key)) throw new MailtrailError('MT_ERR_CONFIG', `providers: "${key}" must be 1-40 letters, digits, "_" or "-"`);
    }
  }

  /** The custom providers to register before anything else (those with `parse`), by id. */
  customParsers(): [string, ConfiguredProvider & { parse: NonNullable<ConfiguredProvider['parse']> }][] {
    return this.configs.flatMap(([key, config]) => (config.parse ? [[config.provider ?? key, { ...config, parse: config.parse }] as const] : []));
  }

  /** Creates or updates the configured integrations: in every environment, or only in `onlyEnvironment`. */
  async apply(onlyEnvironment?: string): Promise<void> {
    if (this.configs.length === 0) return;
    const all = onlyEnvironment === undefined ? (await this.store.listEnvironments()).map((environment) => environment.id) : [onlyEnvironment];
    for (const [key, config] of this.configs) {
      const targets = config.environmentId === undefined ? all : all.filter((id) => id === config.environmentId);
      for (const environmentId of targets) if (await this.store.getEnvironment(environmentId)) await this.ensure(environmentId, key, config);
    }
  }

  /** The integrations of `providerId` configured in code (by this instance's configuration) in an environment. */
  async find(environmentId: string, providerId: string): Promise<Integration[]> {
    const keys = this.configs.filter(([key, config]) => (config.provider ?? key) === providerId).map(([key]) => key);
    if (keys.length === 0) return [];
    const integrations = await this.store.listIntegrations(environmentId);
    return integrations.filter((integration) => integration.provider === providerId && keys.some((key) => integration.name.endsWith(mark(key))));
  }

  private async ensure(environmentId: string, key: string, config: ConfiguredProvider): Promise<Integration> {
    const providerId = config.provider ?? key;
    const adapter = this.registry.get(providerId);
    if (!adapter) {
      throw new MailtrailError('MT_ERR_CONFIG', `providers.${key}: unknown provider "${providerId}"; give its parse function to configure a provider Mailtrail does not ship`);
    }
    const input = {
      name: `${config.name ?? adapter.displayName}${mark(key)}`,
      signingKey: config.signingKey ?? null,
      allowUnsigned: config.allowUnsigned ?? false,
      settings: config.settings ?? {},
      statusMapping: config.statusMapping ?? DEFAULT_STATUS_MAPPING,
      activityTracking: config.activityTracking ?? true,
    };
    const mine = (list: Integration[]) => list.filter((integration) => integration.provider === providerId && integration.name.endsWith(mark(key))).sort(byId);
    let found = mine(await this.store.listIntegrations(environmentId));
    if (found.length === 0) {
      await this.integrations.create(environmentId, { providerId, ...input }).catch((error: unknown) => rethrowAsConfig(key, error));
      found = mine(await this.store.listIntegrations(environmentId));
    }
    // Two nodes starting at once on an empty database may each create one: every node keeps the oldest, so they
    // agree without talking to each other, and the webhook alias never finds two.
    const [kept, ...extra] = found;
    for (const duplicate of extra) await this.store.deleteIntegration(environmentId, duplicate.id);
    return this.integrations.update(environmentId, kept!.id, input).catch((error: unknown) => rethrowAsConfig(key, error));
  }
}

const byId = (a: Integration, b: Integration) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** A configuration the service refuses (a malformed key, settings SES cannot use) is the app's configuration error. */
function rethrowAsConfig(key: string, error: unknown): never {
  if (error instanceof MailtrailError && (error.code === 'MT_ERR_VALIDATION' || error.code === 'MT_ERR_UNKNOWN_PROVIDER')) {
    throw new MailtrailError('MT_ERR_CONFIG', `providers.${key}: ${error.message}`, { cause: error });
  }
  throw error;
}
