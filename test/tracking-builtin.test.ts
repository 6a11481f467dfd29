import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailtrailError } from '../src/index.js';
import { startServer, type TestServer } from './helpers/server.js';

// The first-party integration holds the messages tracking hits create (a message instrumented in code and never
// registered); the recorder keeps its id, so the API may show it but not change or delete it.
describe("the environment's first-party tracking integration", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('sqlite');
  });
  afterAll(() => server.stop());

  const openPixel = async () => {
    const { html } = server.mailtrail.instrument({ environmentId: server.environmentId, messageId: 'lib-1', html: '<p>Hi</p>' });
    const pixel = /https:\/\/mailtrail\.example\.com(\/track\/open\/[\w-]+)/.exec(html!)![1]!;
    expect((await fetch(server.url + pixel)).status).toBe(200);
  };

  it('cannot be changed or deleted through the API, and hits keep reaching it', async () => {
    await openPixel();
    const listed = (await server.api('/v1/integrations')).body.data as { id: string; providerId: string }[];
    const builtIn = listed.find((integration) => integration.providerId === 'mailtrail')!;
    expect(builtIn).toBeDefined();
    for (const [method, path, body] of [
      ['DELETE', `/v1/integrations/${builtIn.id}`, undefined],
      ['PATCH', `/v1/integrations/${builtIn.id}`, { name: 'mine now' }],
      ['POST', `/v1/integrations/${builtIn.id}/rotate-credentials`, undefined],
    ] as const) {
      const answer = await server.api(path, { method, body });
      expect(answer, `${method} ${path}`).toMatchObject({ status: 409, body: { error: { code: 'MT_ERR_CONFLICT' } } });
    }
    await openPixel();
    const message = await server.api('/v1/messages/lib-1');
    expect(message.body).toMatchObject({ integrationId: builtIn.id, state: { opens: 2 } });
  });

  it('keeps its provider id from parsers registered in code', () => {
    expect(() => server.mailtrail.registerParser('mailtrail', () => [])).toThrow(MailtrailError);
  });
});

describe('a message a tracking hit made before it was registered', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('sqlite');
  });
  afterAll(() => server.stop());

  it('takes no provider id by PATCH (its events could never reach it), and joins its integration by POST', async () => {
    const { html } = server.mailtrail.instrument({ environmentId: server.environmentId, messageId: 'early-1', html: '<p>Hi</p>' });
    const pixel = /https:\/\/mailtrail\.example\.com(\/track\/open\/[\w-]+)/.exec(html!)![1]!;
    expect((await fetch(server.url + pixel)).status).toBe(200);
    const patched = await server.api('/v1/messages/early-1', { method: 'PATCH', body: { providerMessageId: 'pm-early-1' } });
    expect(patched).toMatchObject({ status: 409, body: { error: { code: 'MT_ERR_CONFLICT', message: expect.stringContaining('POST /v1/messages') } } });

    const integrationId = (await server.api('/v1/integrations', { body: { providerId: 'generic', name: 'own code' } })).body.id;
    const registered = await server.api('/v1/messages', { body: { integrationId, id: 'early-1', providerMessageId: 'pm-early-1', to: 'ada@example.com' } });
    expect(registered.body).toMatchObject({ integrationId, providerMessageId: 'pm-early-1', state: { opens: 1 } });
  });
});
