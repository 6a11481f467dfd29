import { MailtrailError } from '../core/errors.js';
import type { Store } from '../store/types.js';

/**
 * The environment an embedded Mailtrail serves when a URL names none (`/track/webhook/:providerId`) and a call
 * names none (`instrument()`): the `environmentId` option; else the environment named by the `environment` option,
 * created on start when no environment has that name (a code-only set-up needs no CLI or API call); else the only
 * environment there is.
 */
export class DefaultEnvironment {
  private resolved: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: { id?: string | undefined; name?: string | undefined },
  ) {
    this.resolved = options.id;
  }

  /** Finds or creates the named environment, on start; returns its id when the options decide one. */
  async start(create: (name: string) => Promise<unknown>): Promise<string | undefined> {
    const { id, name } = this.options;
    if (id !== undefined || name === undefined) return id;
    const named = async () => (await this.store.listEnvironments()).filter((environment) => environment.name === name);
    let found = await named();
    if (found.length === 0) {
      await create(name);
      // Nodes starting together on an empty database may each create one: all of them take the oldest (the list is
      // in creation order), so they serve the same environment.
      found = await named();
    }
    this.resolved = found[0]!.id;
    return this.resolved;
  }

  /**
   * The default environment's id when the options decide it (`environmentId`, or the `environment` option's once
   * started), for callers that cannot wait (`instrument()`); the only environment is not looked up here.
   */
  known(): string | undefined {
    return this.resolved;
  }

  /** The default environment's id; throws when the options name none and there is not exactly one environment. */
  async current(): Promise<string> {
    if (this.resolved !== undefined) return this.resolved;
    const environments = await this.store.listEnvironments();
    if (environments.length === 1) return environments[0]!.id;
    if (environments.length === 0) throw new MailtrailError('MT_ERR_NOT_FOUND', 'there is no environment yet: create one, or start Mailtrail with the environment option');
    throw new MailtrailError('MT_ERR_CONFLICT', 'there are several environments: start Mailtrail with the environmentId (or environment) option to say which one this URL serves');
  }
}
