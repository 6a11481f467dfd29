import { afterAll, describe, expect, it } from 'vitest';
import { createMailtrail, type Mailtrail } from '../src/index.js';
import { generateSecret } from '../src/outbound/endpoints.js';
import { standardWebhooksKey } from '../src/providers/standard-webhooks.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { freshStore, type TestStore } from './helpers/stores.js';

describe('endpoints configured in code', () => {
  const opened: { mailtrail: Mailtrail; storage: TestStore }[] = [];
  afterAll(async () => {
    for (const { mailtrail, storage } of opened) {
      await mailtrail.close();
      await storage.cleanup().catch(() => undefined);
    }
  });

  it('are created in every environment, in new ones too, and brought in line on the next start', async () => {
    const storage = await freshStore('sqlite');
    const secret = generateMasterSecret();
    const first = generateSecret();
    const start = (webhookSecret: string, events: string[]) =>
      createMailtrail({ store: storage.store, secret, outbound: { worker: false }, webhooks: [{ url: 'https://crm.example.com/hook', secret: webhookSecret, events }] });

    let mailtrail = await start(first, ['email.delivered']);
    const { environmentId: a } = await mailtrail.createEnvironment('a');
    const { environmentId: b } = await mailtrail.createEnvironment('b');
    for (const id of [a, b]) {
      const [endpoint] = await mailtrail.endpoints.list(id);
      expect(endpoint).toMatchObject({ url: 'https://crm.example.com/hook', eventTypes: ['email.delivered'], description: 'configured in code' });
      expect(mailtrail.endpoints.signingKeys(endpoint!, Date.now())).toEqual([standardWebhooksKey(first)]);
    }
    // a restart (a second instance on the same database) with another secret and other events updates the same endpoint
    const second = generateSecret();
    mailtrail = await start(second, ['*']);
    opened.push({ mailtrail, storage });
    const endpoints = await mailtrail.endpoints.list(a);
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({ eventTypes: ['*'] });
    expect(mailtrail.endpoints.signingKeys(endpoints[0]!, Date.now())).toEqual([standardWebhooksKey(second)]);
  });

  it('refuse a secret that is not a Standard Webhooks secret', async () => {
    const storage = await freshStore('sqlite');
    const mailtrail = await createMailtrail({ store: storage.store, secret: generateMasterSecret(), outbound: { worker: false } });
    opened.push({ mailtrail, storage });
    const { environmentId } = await mailtrail.createEnvironment('x');
    await expect(mailtrail.endpoints.ensureConfigured(environmentId, { url: 'https://x.example.com/', secret: 'hunter2' })).rejects.toMatchObject({ code: 'MT_ERR_CONFIG' });
  });
});
