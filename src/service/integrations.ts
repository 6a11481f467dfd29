import { MailtrailError } from '../core/errors.js';
import { newId } from '../core/ids.js';
import { providerById } from '../providers/registry.js';
import type { SecretBox } from '../security/secret-box.js';
import type { Integration, Store } from '../store/types.js';

export interface CreateIntegrationInput {
  providerId: string;
  name: string;
  signingKey?: string | null | undefined;
  activityTracking?: boolean | undefined;
  allowUnsigned?: boolean | undefined;
}

export interface UpdateIntegrationInput {
  name?: string | undefined;
  /** A new key; `null` removes the key. */
  signingKey?: string | null | undefined;
  activityTracking?: boolean | undefined;
  allowUnsigned?: boolean | undefined;
}

/** Integrations with their secrets sealed: the clear signing key exists only in memory, while verifying. */
export class IntegrationService {
  constructor(
    private readonly store: Store,
    private readonly secrets: SecretBox,
    private readonly now: () => number,
  ) {}

  async create(environmentId: string, input: CreateIntegrationInput): Promise<Integration> {
    const adapter = providerById(input.providerId);
    if (!adapter) throw new MailtrailError('MT_ERR_UNKNOWN_PROVIDER', `unknown providerId "${input.providerId}"`);
    const id = newId('int', this.now());
    const now = this.now();
    return this.store.createIntegration({
      id,
      environmentId,
      provider: adapter.id,
      name: input.name,
      activityTracking: input.activityTracking ?? true,
      allowUnsigned: input.allowUnsigned ?? false,
      signingKeyEnc: this.sealKey(adapter.id, id, input.signingKey),
      credentialsEnc: null,
      createdAt: now,
      updatedAt: now,
    });
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
    const current = await this.get(environmentId, id);
    const updated = await this.store.updateIntegration(environmentId, id, {
      ...(input.name !== undefined ? { name: input.name } : {}),
      ...(input.activityTracking !== undefined ? { activityTracking: input.activityTracking } : {}),
      ...(input.allowUnsigned !== undefined ? { allowUnsigned: input.allowUnsigned } : {}),
      ...(input.signingKey !== undefined ? { signingKeyEnc: this.sealKey(current.provider, id, input.signingKey) } : {}),
      updatedAt: this.now(),
    });
    if (!updated) throw new MailtrailError('MT_ERR_NOT_FOUND', `no integration ${id}`);
    return updated;
  }

  async delete(environmentId: string, id: string): Promise<void> {
    if (!(await this.store.deleteIntegration(environmentId, id))) throw new MailtrailError('MT_ERR_NOT_FOUND', `no integration ${id}`);
  }

  /** The clear signing key, or null when none is configured. */
  signingKey(integration: Integration): string | null {
    return integration.signingKeyEnc === null ? null : this.secrets.open(integration.signingKeyEnc, `${integration.id}:signingKey`);
  }

  private sealKey(providerId: string, integrationId: string, key: string | null | undefined): string | null {
    if (key === null || key === undefined || key.trim() === '') return null;
    const problem = providerById(providerId)?.checkSigningKey(key.trim());
    if (problem) throw new MailtrailError('MT_ERR_VALIDATION', `signingKey: ${problem}`);
    return this.secrets.seal(key.trim(), `${integrationId}:signingKey`);
  }
}
