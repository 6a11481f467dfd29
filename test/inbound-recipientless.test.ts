import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

// What a notification platform's SDK posts with `activity.track`: the provider's message id and no recipient.
const sdkBody = (externalId: string, status = 'sent', date = '2026-11-22T10:00:00Z') => JSON.stringify({ event: { status, date, externalId } });

for (const dialect of DIALECTS) {
  describe(`${dialect}: events that name no recipient, over HTTP`, () => {
    let server: TestServer;
    let integrationId: string;
    const headers = () => ({ authorization: `ApiKey ${server.apiKey}`, 'content-type': 'application/json' });
    const register = (providerMessageId: string, to: string) => server.api('/v1/messages', { body: { integrationId, providerMessageId, to } });
    const track = (body: string) => server.inbound(integrationId, body, headers());
    const messagesOf = async (providerMessageId: string) =>
      (await server.api(`/v1/messages?integrationId=${integrationId}&providerMessageId=${providerMessageId}&limit=50`)).body.data as { id: string; to: string; status: string; state: { eventCount: number } }[];
    const timeline = async (id: string) => (await server.api(`/v1/messages/${id}`)).body.timeline as { id: string; status: string }[];

    beforeAll(async () => {
      server = await startServer(dialect);
      integrationId = (await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'Notification platform' } })).body.id;
    });
    afterAll(() => server.stop());

    it("attaches the SDK's recipient-less event to the message registered before it", async () => {
      const registered = await register('ext-abc', 'ada@example.com');
      expect(registered.status).toBe(201);
      const answer = await track(sdkBody('ext-abc'));
      expect(answer.status).toBe(200);

      const messages = await messagesOf('ext-abc');
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ id: registered.body.id, to: 'ada@example.com', status: 'sent', state: { eventCount: 1 } });
      expect((await timeline(registered.body.id)).map((event) => event.id)).toEqual([answer.body[0].id]);
    });

    it('merges the message a recipient-less event created into the registration that follows it', async () => {
      const answer = await track(sdkBody('ext-first', 'delivered'));
      const provisional = (await messagesOf('ext-first'))[0]!;
      expect(provisional.to).toBeNull();

      const registered = await register('ext-first', 'ada@example.com');
      expect(registered.status).toBe(200);
      const messages = await messagesOf('ext-first');
      expect(messages).toHaveLength(1);
      expect(messages[0]).toMatchObject({ id: provisional.id, to: 'ada@example.com', status: 'delivered', state: { eventCount: 1 } });
      expect((await timeline(provisional.id)).map((event) => event.id)).toEqual([answer.body[0].id]);
      // and the events after the registration find it too
      await track(sdkBody('ext-first', 'opened', '2026-11-22T11:00:00Z'));
      expect(await messagesOf('ext-first')).toMatchObject([{ id: provisional.id, state: { eventCount: 2 } }]);
    });

    it('gives the recipient of a later event to the message a recipient-less event created', async () => {
      await track(sdkBody('ext-fill'));
      await track(JSON.stringify({ event: { status: 'delivered', date: '2026-11-22T10:01:00Z', externalId: 'ext-fill' }, recipient: 'ada@example.com' }));
      expect(await messagesOf('ext-fill')).toMatchObject([{ to: 'ada@example.com', status: 'delivered', state: { eventCount: 2 } }]);
    });

    it('sends a recipient-less event of a batch send to the earliest registered message, and one with a recipient to its own', async () => {
      const ada = await register('ext-batch', 'ada@example.com');
      const bob = await register('ext-batch', 'bob@example.com');
      await track(sdkBody('ext-batch'));
      await track(JSON.stringify({ event: { status: 'delivered', date: '2026-11-22T10:01:00Z', externalId: 'ext-batch' }, recipient: 'bob@example.com' }));

      const messages = await messagesOf('ext-batch');
      expect(messages.map((message) => message.to).sort()).toEqual(['ada@example.com', 'bob@example.com']);
      expect((await timeline(ada.body.id)).map((event) => event.status)).toEqual(['sent']);
      expect((await timeline(bob.body.id)).map((event) => event.status)).toEqual(['delivered']);
    });

    it('stores the same recipient-less event posted twice once', async () => {
      const registered = await register('ext-twice', 'ada@example.com');
      const first = await track(sdkBody('ext-twice'));
      const second = await track(sdkBody('ext-twice'));
      expect(second.body[0].id).toBe(first.body[0].id);
      expect(await messagesOf('ext-twice')).toMatchObject([{ id: registered.body.id, state: { eventCount: 1 } }]);
    });
  });
}
