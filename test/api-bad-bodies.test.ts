import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendgridBatch, sendgridKeys, signSendgrid, startServer, type TestServer } from './helpers/server.js';
import { DIALECTS } from './helpers/stores.js';

// Every write route of the management API, as /openapi.json lists them, gets every kind of body it cannot use:
// each is refused with its own status and stable code, in the one error shape, and nothing stored changes.

interface WriteRoute {
  method: string;
  /** The OpenAPI path, with `{id}` */
  template: string;
  bodyRequired: boolean;
}

interface BadBody {
  name: string;
  contentType: string | null;
  body: string | null;
  status: number;
  code: string;
}

const json = 'application/json';
const BAD_BODIES: BadBody[] = [
  { name: 'malformed JSON', contentType: json, body: '{"providerId":', status: 400, code: 'MT_ERR_INVALID_BODY' },
  { name: 'an empty JSON body', contentType: json, body: '', status: 400, code: 'MT_ERR_INVALID_BODY' },
  { name: 'the JSON scalar 42', contentType: json, body: '42', status: 400, code: 'MT_ERR_VALIDATION' },
  { name: 'the JSON scalar "x"', contentType: json, body: '"x"', status: 400, code: 'MT_ERR_VALIDATION' },
  { name: 'the JSON null', contentType: json, body: 'null', status: 400, code: 'MT_ERR_VALIDATION' },
  { name: 'a JSON array', contentType: json, body: '[{}]', status: 400, code: 'MT_ERR_VALIDATION' },
  { name: 'a text/plain body', contentType: 'text/plain', body: '{}', status: 415, code: 'MT_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'a form body', contentType: 'application/x-www-form-urlencoded', body: 'a=1', status: 415, code: 'MT_ERR_UNSUPPORTED_MEDIA_TYPE' },
  { name: 'a body with no content type', contentType: null, body: '{}', status: 415, code: 'MT_ERR_UNSUPPORTED_MEDIA_TYPE' },
];
/** Only where a body is required: where it is optional, no body at all is the usual way to call the route. */
const NO_BODY: BadBody = { name: 'no body and no content type', contentType: null, body: null, status: 400, code: 'MT_ERR_INVALID_BODY' };

for (const dialect of DIALECTS) {
  describe(`${dialect}: bodies the management API cannot use`, () => {
    let server: TestServer;
    let routes: WriteRoute[];
    const ids = new Map<string, string>();
    const keys = sendgridKeys();

    /** Everything a failed write could have changed, read through the API. */
    const snapshot = async () => {
      const reads = [
        '/v1/integrations',
        `/v1/integrations/${ids.get('integrations')}`,
        '/v1/webhook-endpoints',
        `/v1/webhook-endpoints/${ids.get('webhook-endpoints')}`,
        `/v1/webhook-endpoints/${ids.get('webhook-endpoints')}/deliveries`,
        `/v1/webhook-deliveries/${ids.get('webhook-deliveries')}`,
        '/v1/messages',
        `/v1/messages/${ids.get('messages')}`,
        '/v1/events',
      ];
      return Promise.all(
        reads.map(async (path) => {
          const { status, body } = await server.api(path);
          return { path, status, body };
        }),
      );
    };

    const send = (method: string, path: string, bad: BadBody) =>
      fetch(server.url + path, {
        method,
        headers: { authorization: `ApiKey ${server.apiKey}`, ...(bad.contentType === null ? {} : { 'content-type': bad.contentType }) },
        // bytes, so that fetch adds no content type of its own
        body: bad.body === null ? undefined : Buffer.from(bad.body),
      });

    beforeAll(async () => {
      server = await startServer(dialect, { outbound: { worker: false } });
      const integration = await server.api('/v1/integrations', { body: { providerId: 'sendgrid', name: 'SendGrid', signingKey: keys.publicKeyBase64 } });
      const endpoint = await server.api('/v1/webhook-endpoints', { body: { url: 'https://hooks.example.com/mailtrail' } });
      const batch = sendgridBatch([{ email: 'ada@example.com', event: 'delivered', timestamp: 1_700_000_000, sg_event_id: 'bad-bodies-1', sg_message_id: 'BB1.x' }]);
      expect((await server.inbound(integration.body.id, batch, signSendgrid(keys.privateKey, batch))).status).toBe(200);
      const deliveries = await server.api(`/v1/webhook-endpoints/${endpoint.body.id}/deliveries`);
      const messages = await server.api('/v1/messages');
      ids.set('integrations', integration.body.id);
      ids.set('webhook-endpoints', endpoint.body.id);
      ids.set('webhook-deliveries', deliveries.body.data[0].id);
      ids.set('messages', messages.body.data[0].id);

      const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { requestBody?: { required?: boolean } }>> };
      routes = Object.entries(document.paths)
        .filter(([template]) => template.startsWith('/v1/'))
        .flatMap(([template, operations]) =>
          Object.entries(operations)
            .filter(([method]) => ['post', 'put', 'patch', 'delete'].includes(method))
            .map(([method, operation]) => ({ method: method.toUpperCase(), template, bodyRequired: operation.requestBody?.required === true })),
        );
    });
    afterAll(async () => {
      await server?.stop();
    });

    it('lists a JSON request body for every write route, so that what a route takes is in the document', async () => {
      expect(routes.length).toBeGreaterThanOrEqual(12);
      const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { requestBody?: { content?: object } }>> };
      for (const route of routes) expect(Object.keys(document.paths[route.template]![route.method.toLowerCase()]!.requestBody?.content ?? {}), `${route.method} ${route.template}`).toEqual([json]);
    });

    it('refuses every unusable body on every write route with its status and code, and changes nothing', async () => {
      const before = await snapshot();
      const wrong: string[] = [];
      for (const route of routes) {
        const path = route.template.replace(/^\/v1\/([\w-]+)\/\{id\}/, (_, collection: string) => {
          const id = ids.get(collection);
          if (!id) throw new Error(`no object to put in ${route.template}: create one in beforeAll`);
          return `/v1/${collection}/${id}`;
        });
        for (const bad of route.bodyRequired ? [...BAD_BODIES, NO_BODY] : BAD_BODIES) {
          const response = await send(route.method, path, bad);
          const text = await response.text();
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = text;
          }
          const shaped =
            typeof body === 'object' && body !== null && Object.keys(body).join() === 'error' && typeof (body as { error: { message?: unknown } }).error.message === 'string';
          const code = shaped ? (body as { error: { code: string } }).error.code : null;
          if (response.status !== bad.status || code !== bad.code || !shaped || !response.headers.get('content-type')?.startsWith(json)) {
            wrong.push(`${route.method} ${route.template} with ${bad.name}: ${response.status} ${text.slice(0, 160)}`);
          }
        }
      }
      expect(wrong).toEqual([]);
      expect(await snapshot()).toEqual(before);
    });

    it('calls a route whose body is optional with no body at all, or with {}', async () => {
      const endpoint = ids.get('webhook-endpoints');
      const rotated = await send('POST', `/v1/webhook-endpoints/${endpoint}/rotate-secret`, { ...NO_BODY });
      expect(rotated.status).toBe(200);
      const again = await send('POST', `/v1/webhook-endpoints/${endpoint}/rotate-secret`, { ...NO_BODY, contentType: json, body: '{}' });
      expect(again.status).toBe(200);
      const test = await send('POST', `/v1/webhook-endpoints/${endpoint}/test`, { ...NO_BODY, contentType: json, body: '{}' });
      expect(test.status).toBe(200);
    });

    it('reports the field of a body that parses but does not fit, and refuses a field the route does not know', async () => {
      const missing = await server.api('/v1/integrations', { body: { name: 'no provider' } });
      expect(missing.status).toBe(400);
      expect(missing.body.error).toMatchObject({ code: 'MT_ERR_VALIDATION', message: expect.stringContaining('providerId') });
      const unknown = await server.api(`/v1/webhook-deliveries/${ids.get('webhook-deliveries')}/retry`, { body: { force: true } });
      expect(unknown.status).toBe(400);
      expect(unknown.body.error.code).toBe('MT_ERR_VALIDATION');
    });
  });
}
