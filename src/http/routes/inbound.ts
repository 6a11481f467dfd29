import type { HttpBindings } from '@hono/node-server';
import type { Context } from 'hono';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { receiveInbound } from '../../ingest/inbound.js';
import { apiKeyFromHeader } from '../../security/api-keys.js';
import { readBody } from '../body.js';
import type { AppContext, AppEnv } from '../context.js';
import { ErrorSchema, InboundItemSchema } from '../schemas.js';

const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });

export function inboundRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);

  // Registered for the OpenAPI document only: the handler reads the raw body itself, because the signature
  // covers the exact bytes and a validator would consume them.
  const route = createRoute({
      method: 'post',
      path: '/v2/inbound-webhooks/delivery-providers/{environmentId}/{integrationId}',
      tags: ['Inbound'],
      summary: "Receive a provider's event webhook",
      description:
        "Point the provider's event webhook here. The request is verified the provider's way (authScheme of the integration): " +
        "a signature over the raw bytes with the integration's signing key (or, with none, the environment API key or allowUnsigned); " +
        'an SNS certificate and the allowed topics; the generated Basic-auth credentials (or the password as a bearer token); or the ' +
        'environment API key for generic events. Every event is stored in one transaction, and only then is 200 returned.',
      request: {
        params: z.object({
          environmentId: z.string().openapi({ param: { name: 'environmentId', in: 'path' } }),
          integrationId: z.string().openapi({ param: { name: 'integrationId', in: 'path' } }),
        }),
        headers: z.object({
          'idempotency-key': z.string().optional().openapi({ description: 'Same key and body answer the stored response for 24 h' }),
        }),
        body: {
          required: true,
          description: "The provider's payload, exactly as it sends it: JSON (one event or an array), SNS messages as text/plain, Mandrill as a form",
          content: {
            'application/json': { schema: z.union([z.array(z.record(z.string(), z.unknown())), z.record(z.string(), z.unknown())]) },
            'text/plain': { schema: z.string().openapi({ description: 'An SNS message (Amazon SES)' }) },
            'application/x-www-form-urlencoded': { schema: z.object({ mandrill_events: z.string() }) },
          },
        },
      },
      responses: {
        200: {
          description: 'Every event is stored; one item per normalized event',
          headers: { 'Idempotency-Replay': { schema: { type: 'string', enum: ['true'] }, description: 'Present when this is a stored response' } },
          content: { 'application/json': { schema: z.array(InboundItemSchema) } },
        },
        400: error('The body cannot be read'),
        401: error('Missing, stale, replayed or wrong signature, wrong credentials, or no allowed way to accept an unsigned request'),
        403: error('An SNS topic the integration does not accept'),
        404: error('Unknown environment or integration'),
        409: error('A request with this idempotency-key is still in flight'),
        413: error('The body is over the limit'),
        415: error('Unsupported content type'),
        502: error('An SNS certificate could not be fetched, or a subscription could not be confirmed'),
        422: error('The idempotency-key was used with another body'),
        503: error('The events could not be stored; retry'),
      },
  });
  app.openAPIRegistry.registerPath(route);
  app.post('/v2/inbound-webhooks/delivery-providers/:environmentId/:integrationId', (c) => {
      const { environmentId, integrationId } = c.req.param() as { environmentId: string; integrationId: string };
      return receiveAt(c, context, environmentId, integrationId, '/v2/');
  });

  // Providers check that a URL answers before saving it (Mandrill sends HEAD). The answer is the same for every
  // id, so it tells nothing about which integrations exist.
  app.on(['HEAD', 'GET'], '/v2/inbound-webhooks/delivery-providers/:environmentId/:integrationId', (c) => c.body(null, 200));

  return app;
}

/**
 * Answers a provider's POST for an integration: the inbound pipeline over the request's raw body, and the
 * contract's response. `pathStart` is where Mailtrail's own path begins (`/v2/`), whatever the mount prefix.
 */
export async function receiveAt(c: Context<AppEnv>, context: AppContext, environmentId: string, integrationId: string, pathStart: string): Promise<Response> {
  const headers = new Map<string, string>();
  c.req.raw.headers.forEach((value, name) => headers.set(name, value));
  const declaredLength = c.req.header('content-length');
  const output = await receiveInbound(context, {
    environmentId,
    integrationId,
    url: publicRequestUrl(context.publicUrl, c.req.url, pathStart),
    headers,
    contentType: c.req.header('content-type') ?? '',
    contentLength: declaredLength && /^\d+$/.test(declaredLength) ? Number(declaredLength) : null,
    readBody: (limit) => readBody(c.req.raw, limit, (c.env as Partial<HttpBindings> | undefined)?.incoming),
    apiKey: apiKeyFromHeader(c.req.header('authorization')),
    idempotencyKey: c.req.header('idempotency-key') ?? null,
  });
  return c.body(output.body, 200, {
    'content-type': 'application/json; charset=utf-8',
    ...(output.replayed ? { 'idempotency-replay': 'true' } : {}),
  });
}

/**
 * The URL the provider was given: PUBLIC_URL, then the path from `pathStart` on and the query. Behind a proxy or a
 * mount point the server sees another host and prefix; Mandrill signs the URL exactly as it was configured.
 */
function publicRequestUrl(publicUrl: string, requestUrl: string, pathStart: string): string {
  const url = new URL(requestUrl);
  const path = url.pathname.slice(Math.max(0, url.pathname.indexOf(pathStart)));
  return `${publicUrl}${path}${url.search}`;
}
