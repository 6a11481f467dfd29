import type { ProviderAdapter } from './types.js';
import { sendgrid } from './sendgrid.js';

/** Every provider Mailtrail ships, by id. */
export const PROVIDERS: ReadonlyMap<string, ProviderAdapter> = new Map([sendgrid].map((adapter) => [adapter.id, adapter]));

export function providerById(id: string): ProviderAdapter | undefined {
  return PROVIDERS.get(id);
}
