import { createMailtrail, type Mailtrail } from '../../src/index.js';
import type { ConfiguredProvider } from '../../src/service/configured-providers.js';
import { generateMasterSecret } from '../../src/security/secret-box.js';
import { freshStore, type TestStore } from './stores.js';

/** The base an embedding app gives Mailtrail: its own origin and the path it mounts Mailtrail at. */
export const EMBEDDED_PUBLIC_URL = 'https://shop.example.com/api';

/** A Mailtrail to mount in a host app (no worker, no server of its own), with one environment and its API key. */
export async function startEmbedded(providers: Record<string, ConfiguredProvider>, options: { bodyLimit?: number } = {}): Promise<{ mailtrail: Mailtrail; storage: TestStore; environmentId: string; apiKey: string }> {
  const storage = await freshStore('sqlite');
  const mailtrail = await createMailtrail({ store: storage.store, secret: generateMasterSecret(), publicUrl: EMBEDDED_PUBLIC_URL, outbound: { worker: false }, providers, bodyLimit: options.bodyLimit });
  const { environmentId, apiKey } = await mailtrail.createEnvironment('shop');
  return { mailtrail, storage, environmentId, apiKey };
}
