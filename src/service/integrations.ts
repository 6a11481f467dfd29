import { FIRST_PARTY_PROVIDER } from '../store/hit-verdicts.js';
import { randomBytes } from 'node:crypto';
import { MailtrailError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { DEFAULT_STATUS_MAPPING, isStatusMapping, STATUS_MAPPINGS, type StatusMapping } from '../core/status-mapping.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { ProviderAdapter } from '../providers/types.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Integration, Store } from '../store/types.js';

export interface CreateIntegrationInput {
  providerId: string;
  name: string;
  signingKey?: string | null | undefined;
  activityTracking?: boolean | undefined;
  allowUnsigned?: boolean | undefined;
  settings?: Record<string, unknown> | undefined;
  /** Default `contract`. */
  statusMapping?: StatusMapping | undefined;
}

export interface UpdateIntegrationInput {
  name?: string | undefined;
  /** A new key; `null` removes the key. */
  signingKey?: string | null | undefined;
  activityTracking?: boolean | undefined;
  allowUnsigned?: boolean | undefined;
  settings?: Record<string, unknown> | undefined;
  statusMapping?: StatusMapping | undefined;
}

/** The Basic-auth pair Mailtrail generates for a provider that does not sign its requests. */
export interface InboundCredentials {
  username: string;
  password: string;
}

/** An integration, with its clear credentials when they were just generated (shown once). */
export interface IntegrationWithCredentials {
  integration: Integration;
  credentials: InboundCredentials | null;
}

const MAX_SETTINGS = 4096;

/** Integrations with their secrets sealed: clear keys and credentials exist only in memory, while verifying. */
export class IntegrationService {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly secrets: SecretBox,
    private readonly now: () => number,
  ) {}

  async create(environmentId: string, input: CreateIntegrationInput): Promise<IntegrationWithCredentials> {
    const adapter = this.providers.get(input.providerId);
    if (!adapter) {
      const known = this.providers.list().map((provider) => provider.id).join(', ');
      throw new MailtrailError('MT_ERR_UNKNOWN_PROVIDER', `unknown providerId "${input.providerId}"; known: ${known}`);
    }
    const id = newId('int', this.now());
    const now = this.now();
    const credentials = adapter.auth === 'credentials' ? generateCredentials() : null;
    const integration = await this.store.createIntegration({
      id,
      environmentId,
      provider: adapter.id,
      name: input.name,
      activityTracking: input.activityTracking ?? true,
      allowUnsigned: input.allowUnsigned ?? false,
      signingKeyEnc: this.sealKey(adapter, id, input.signingKey),
      credentialsEnc: credentials ? this.sealCredentials(id, credentials) : null,
      settings: checkSettings(adapter, input.settings ?? {}),
      statusMapping: checkStatusMapping(input.statusMapping ?? DEFAULT_STATUS_MAPPING),
      createdAt: now,
      updatedAt: now,
    });
    return { integration, credentials };
  }

  async get(environmentId: string, id: string): Promise<Integration> {
    const integration = await this.store.getIntegration(environmentId, id);
    if (!integration) throw new MailtrailError('MT_ERR_NOT_FOUND', `no integration ${id}`);
    return integration;
  }

  list(environmentId: string): Promise<Integration[]> {
    return this.store.listIntegrations(environmentId);
  }

  async update(environmentId: string, id: string, input: UpdateIntegrationInput): Promise<Integration> {
    const current = builtInRefused(await this.get(environmentId, id));
    const adapter = this.adapterOf(current);
    const updated = await this.store.updateIntegration(environmentId, id, {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.activityTracking !== undefined ? { activityTracking: input.activityTracking } : {}),
      ...(input.allowUnsigned !== undefined ? { allowUnsigned: input.allowUnsigned } : {}),
      ...(input.signingKey !== undefined ? { signingKeyEnc: this.sealKey(adapter, id, input.signingKey) } : {}),
      ...(input.settings !== undefined ? { settings: checkSettings(adapter, input.settings) } : {}),
      ...(input.statusMapping !== undefined ? { statusMapping: checkStatusMapping(input.statusMapping) } : {}),
      updatedAt: this.now(),
    });
    if (!updated) throw new MailtrailError('MT_ERR_NOT_FOUND', `no integration ${id}`);
    return updated;
  }

  /** New inbound credentials for a provider that does not sign; the old ones stop working at once. */
  async rotateCredentials(environmentId: string, id: string): Promise<IntegrationWithCredentials> {
    const current = builtInRefused(await this.get(environmentId, id));
    if (this.adapterOf(current).auth !== 'credentials') {
      throw new MailtrailError('MT_ERR_VALIDATION', `${current.provider} signs its requests: it has a signing key, not inbound credentials`);
    }
    const credentials = generateCredentials();
    const updated = await this.store.updateIntegration(environmentId, id, { credentialsEnc: this.sealCredentials(id, credentials), updatedAt: this.now() });
    if (!updated) throw new MailtrailError('MT_ERR_NOT_FOUND', `no integration ${id}`);
    return { integration: updated, credentials };
  }

  async delete(environmentId: string, id: string): Promise<void> {
    builtInRefused(await this.get(environmentId, id));
    if (!(await this.store.deleteIntegration(environmentId, id))) throw new MailtrailError('MT_ERR_NOT_FOUND', `no integration ${id}`);
  }

  /** The clear signing key, or null when none is configured. */
  signingKey(integration: Integration): string | null {
    return integration.signingKeyEnc === null ? null : this.secrets.open(integration.signingKeyEnc, `${integration.id}:signingKey`);
  }

  /** The clear inbound credentials, or null for providers that sign. */
  credentials(integration: Integration): InboundCredentials | null {
    if (integration.credentialsEnc === null) return null;
    return JSON.parse(this.secrets.open(integration.credentialsEnc, `${integration.id}:credentials`)) as InboundCredentials;
  }

  private adapterOf(integration: Integration): ProviderAdapter {
    const adapter = this.providers.get(integration.provider);
    if (!adapter) throw new MailtrailError('MT_ERR_UNKNOWN_PROVIDER', `provider "${integration.provider}" is not registered in this process`);
    return adapter;
  }

  private sealKey(adapter: ProviderAdapter, integrationId: string, key: string | null | undefined): string | null {
    if (key === null || key === undefined || key.trim() === '') return null;
    if (adapter.auth !== 'signature' || !adapter.verify) {
      throw new MailtrailError('MT_ERR_VALIDATION', `signingKey: ${adapter.displayName} requests are not verified with a signing key`);
    }
    const problem = adapter.checkSigningKey?.(key.trim());
    if (problem) throw new MailtrailError('MT_ERR_VALIDATION', `signingKey: ${problem}`);
    return this.secrets.seal(key.trim(), `${integrationId}:signingKey`);
  }

  private sealCredentials(integrationId: string, credentials: InboundCredentials): string {
    return this.secrets.seal(JSON.stringify(credentials), `${integrationId}:credentials`);
  }
}

function generateCredentials(): InboundCredentials {
  return { username: 'mailtrail', password: randomBytes(24).toString('base64url') };
}

function checkSettings(adapter: ProviderAdapter, settings: Record<string, unknown>): Record<string, unknown> {
  if (JSON.stringify(settings).length > MAX_SETTINGS) throw new MailtrailError('MT_ERR_VALIDATION', `settings: at most ${MAX_SETTINGS} bytes of JSON`);
  if (!adapter.checkSettings) {
    if (Object.keys(settings).length === 0) return {};
    throw new MailtrailError('MT_ERR_VALIDATION', `settings: ${adapter.displayName} has no settings`);
  }
  const problem = adapter.checkSettings(settings);
  if (problem) throw new MailtrailError('MT_ERR_VALIDATION', `settings: ${problem}`);
  return settings;
}

/** The API's schema checks this too; the library's callers reach the service without it. */
function checkStatusMapping(value: unknown): StatusMapping {
  if (isStatusMapping(value)) return value;
  throw new MailtrailError('MT_ERR_VALIDATION', `statusMapping must be one of ${STATUS_MAPPINGS.map((mapping) => `"${mapping}"`).join(', ')}`);
}

/**
 * The environment's first-party tracking integration (provider `mailtrail`) holds the messages that tracking hits
 * create; Mailtrail makes it and the hit recorder keeps its id, so it is not the API's to change or delete.
 */
function builtInRefused(integration: Integration): Integration {
  if (integration.provider === FIRST_PARTY_PROVIDER) {
    throw new MailtrailError('MT_ERR_CONFLICT', `integration ${integration.id} is Mailtrail's own first-party tracking integration: it cannot be changed or deleted`);
  }
  return integration;
}
