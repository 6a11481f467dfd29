import { MailtrailError } from '../core/errors.js';
import type { ProviderAdapter } from './types.js';
import { amazonSes } from './amazon-ses.js';
import { brevo } from './brevo.js';
import { generic } from './generic.js';
import { mailgun } from './mailgun.js';
import { mailjet } from './mailjet.js';
import { mandrill } from './mandrill.js';
import { postmark } from './postmark.js';
import { resend } from './resend.js';
import { sendgrid } from './sendgrid.js';
import { sparkpost } from './sparkpost.js';

/** Every provider Mailtrail ships. */
export const BUILT_IN_PROVIDERS: readonly ProviderAdapter[] = [sendgrid, mailgun, resend, amazonSes, postmark, sparkpost, mailjet, brevo, mandrill, generic];

const PROVIDER_ID = /^[a-z][a-z0-9_-]{1,39}$/;

/** The providers one Mailtrail instance knows: the built-in ones and any registered by the embedding app. */
export class ProviderRegistry {
  private readonly adapters = new Map<string, ProviderAdapter>(BUILT_IN_PROVIDERS.map((adapter) => [adapter.id, adapter]));

  get(id: string): ProviderAdapter | undefined {
    return this.adapters.get(id);
  }

  list(): ProviderAdapter[] {
    return [...this.adapters.values()];
  }

  /** Adds a custom provider; a built-in id, or one already registered, cannot be taken. */
  register(adapter: ProviderAdapter): void {
    if (!PROVIDER_ID.test(adapter.id)) {
      throw new MailtrailError('MT_ERR_VALIDATION', `a provider id must be 2-40 lower-case letters, digits, "_" or "-", starting with a letter: "${adapter.id}"`);
    }
    if (this.adapters.has(adapter.id)) throw new MailtrailError('MT_ERR_CONFLICT', `provider "${adapter.id}" is already registered`);
    // the provider of first-party tracking hits (FIRST_PARTY_PROVIDER in store/hit-verdicts.ts)
    if (adapter.id === 'mailtrail') throw new MailtrailError('MT_ERR_CONFLICT', 'provider "mailtrail" is Mailtrail\'s own first-party tracking');
    this.adapters.set(adapter.id, adapter);
  }
}
