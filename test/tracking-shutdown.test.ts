import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { createMailtrail, type Mailtrail } from '../src/index.js';
import { generateMasterSecret } from '../src/security/secret-box.js';
import { DIALECTS, freshStore, POSTGRES_URL, type TestStore } from './helpers/stores.js';

// Pixel hits that arrive while others are being stored are answered once queued, before their commit: close() must
// still store every one of them, and a read of the store after close() finds them all.

const PIXEL = /https?:\/\/[^/]+(\/track\/open\/[\w-]+)/;
const BROWSER = { 'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)', accept: 'image/webp,image/png,image/*;q=0.8' };

for (const dialect of DIALECTS) {
  describe(`${dialect}: hits answered before their commit are stored by close()`, () => {
    let test: TestStore;
    let mailtrail: Mailtrail | undefined;
    afterEach(async () => {
      await mailtrail?.close();
      await test?.cleanup();
    });

    async function start(): Promise<{ url: string; pixel: string; environmentId: string }> {
      test = await freshStore(dialect);
      const { dataDir, databaseUrl, schema } = test.location;
      mailtrail = await createMailtrail({ secret: generateMasterSecret(), dataDir, ...(databaseUrl ? { databaseUrl, databaseSchema: schema } : {}) });
      const { environmentId } = await mailtrail.createEnvironment('shutdown');
      const { integration } = await mailtrail.integrations.create(environmentId, { providerId: 'sendgrid', name: 'SendGrid', allowUnsigned: true });
      await test.store.registerMessage({ environmentId, integrationId: integration.id, provider: 'sendgrid', id: 'msg-shutdown', recipient: 'ada@example.com' }, Date.now());
      const { html } = mailtrail.instrument({ messageId: 'msg-shutdown', environmentId, html: '<p>Hello</p>' });
      const { url } = await mailtrail.listen({ port: 0, host: '127.0.0.1' });
      return { url, pixel: PIXEL.exec(html!)![1]!, environmentId };
    }

    const opens = async (environmentId: string) => (await test.store.listEvents(environmentId, { messageId: 'msg-shutdown', limit: 100 })).data.filter((event) => event.status === 'opened').length;

    it('stores every concurrent hit, however early it was answered', async () => {
      const { url, pixel, environmentId } = await start();
      const answers = await Promise.all(Array.from({ length: 40 }, () => fetch(url + pixel, { headers: BROWSER })));
      expect(answers.map((answer) => answer.status)).toEqual(Array<number>(40).fill(200));
      await mailtrail!.close();
      mailtrail = undefined;
      expect(await opens(environmentId)).toBe(40);
    });

    if (dialect === 'postgres') {
      it('answers hits queued behind a commit that cannot finish yet, and close() waits for them to be stored', async () => {
        const { url, pixel, environmentId } = await start();
        // Another session holds the message's row: the recorder's transaction waits for it, and hits pile up.
        const holder = new pg.Client({ connectionString: POSTGRES_URL, options: `-c search_path=${test.location.schema}` });
        await holder.connect();
        try {
          await holder.query('begin');
          await holder.query("select id from messages where id = 'msg-shutdown' for update");
          const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(url + pixel, { headers: BROWSER })));
          expect(answers.map((answer) => answer.status)).toEqual(Array<number>(20).fill(200));
          expect(await opens(environmentId)).toBe(0);
          const closing = mailtrail!.close();
          mailtrail = undefined;
          await holder.query('commit');
          await closing;
        } finally {
          await holder.end();
        }
        expect(await opens(environmentId)).toBe(20);
      });
    }
  });
}
