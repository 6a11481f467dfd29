import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { ENDPOINT_EVENT_TYPES } from '../../core/event-types.js';
import { MailtrailError } from '../../core/errors.js';
import { succeeded } from '../../outbound/sender.js';
import type { Delivery, WebhookEndpoint } from '../../store/types.js';
import type { AppContext, AppEnv } from '../context.js';
import { noBody } from '../json-body.js';
import { ErrorSchema } from '../schemas.js';

const security = [{ ApiKey: [] }];
const errors = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'Missing or invalid API key', content: { 'application/json': { schema: ErrorSchema } } },
  404: { description: 'No such endpoint in this environment', content: { 'application/json': { schema: ErrorSchema } } },
};
const params = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });
const isoTime = z.string().openapi({ format: 'date-time' });
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const EndpointSchema = z
  .object({
    id: z.string().openapi({ example: 'ep_01jd5x0f6q8t3m2r9v7c4b1n0a' }),
    url: z.string().openapi({ format: 'uri' }),
    description: z.string().nullable(),
    eventTypes: z.array(z.string()),
    enabled: z.boolean(),
    disabledReason: z.string().nullable(),
    headers: z.record(z.string(), z.string()),
    rateLimit: z.number().int().nullable(),
    secret: z.string().optional().openapi({ description: 'Only in the responses that create or rotate it: whsec_… (Standard Webhooks); shown once' }),
    previousSecretExpiresAt: isoTime.nullable().openapi({ description: 'Until then requests carry a second signature, with the secret before the last rotation' }),
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .openapi('WebhookEndpoint');

const eventTypes = z
  .array(z.enum(ENDPOINT_EVENT_TYPES as [string, ...string[]]))
  .min(1)
  .openapi({ description: 'email.<status> for any of the eleven statuses, message.sent, message.delivered, message.seen, message.failed, or *' });
const fields = {
  url: z.string().url().max(2048),
  description: z.string().max(500).nullable().optional(),
  eventTypes: eventTypes.optional(),
  enabled: z.boolean().optional(),
  headers: z.record(z.string(), z.string()).optional().openapi({ description: 'Static headers sent with every request (not webhook-*, content-type or mailtrail-attempt)' }),
  rateLimit: z.number().int().min(1).max(1000).nullable().optional().openapi({ description: 'Requests per second at most' }),
};
const CreateEndpointSchema = z.object(fields).strict().openapi('CreateWebhookEndpoint');
const UpdateEndpointSchema = z.object({ ...fields, url: fields.url.optional() }).strict().openapi('UpdateWebhookEndpoint');
const RotateSchema = z
  .object({ graceSeconds: z.number().int().min(0).max(7 * 24 * 3600).optional().openapi({ description: 'How long the old secret keeps signing too; default 24 h' }) })
  .strict();

const DeliverySchema = z
  .object({
    id: z.string(),
    endpointId: z.string(),
    eventId: z.string(),
    messageId: z.string().nullable(),
    eventType: z.string(),
    status: z.enum(['pending', 'succeeded', 'failed']),
    attempts: z.number().int(),
    nextAttemptAt: isoTime.nullable(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    createdAt: isoTime,
    updatedAt: isoTime,
  })
  .openapi('WebhookDelivery');

const AttemptSchema = z.object({
  attempt: z.number().int(),
  startedAt: isoTime,
  durationMs: z.number().int(),
  statusCode: z.number().int().nullable(),
  responseBody: z.string().nullable().openapi({ description: 'The first 4 KB of the answer' }),
  error: z.string().nullable(),
});
// `attempts` stays the count it is in lists; each attempt's record is in `history`, oldest first
const DeliveryDetailSchema = DeliverySchema.extend({ history: z.array(AttemptSchema) }).openapi('WebhookDeliveryDetail');

export function endpointView(endpoint: WebhookEndpoint, secret: string | null = null) {
  return {
    id: endpoint.id,
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.eventTypes,
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason,
    headers: endpoint.headers,
    rateLimit: endpoint.rateLimit,
    ...(secret !== null ? { secret } : {}),
    previousSecretExpiresAt: endpoint.previousSecretEnc !== null ? iso(endpoint.previousSecretUntil) : null,
    createdAt: iso(endpoint.createdAt)!,
    updatedAt: iso(endpoint.updatedAt)!,
  };
}

export function deliveryView(delivery: Delivery) {
  return {
    id: delivery.id,
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    messageId: delivery.messageId,
    eventType: delivery.eventType,
    status: delivery.status,
    attempts: delivery.attempts,
    nextAttemptAt: iso(delivery.nextAttemptAt),
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    createdAt: iso(delivery.createdAt)!,
    updatedAt: iso(delivery.updatedAt)!,
  };
}

export function webhookEndpointRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);
  const endpoints = context.endpoints;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-endpoints',
      tags: ['Outbound webhooks'],
      summary: 'Subscribe an endpoint of yours to normalized events',
      security,
      request: { body: { required: true, content: { 'application/json': { schema: CreateEndpointSchema } } } },
      responses: { 201: json(EndpointSchema, 'The endpoint, with its signing secret (shown once)'), ...errors },
    }),
    async (c) => {
      const { endpoint, secret } = await endpoints.create(c.get('environmentId'), c.req.valid('json'));
      return c.json(endpointView(endpoint, secret), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhook-endpoints',
      tags: ['Outbound webhooks'],
      summary: 'List endpoints',
      security,
      responses: { 200: json(z.object({ data: z.array(EndpointSchema) }), 'Every endpoint of the environment'), 401: errors[401] },
    }),
    async (c) => c.json({ data: (await endpoints.list(c.get('environmentId'))).map((endpoint) => endpointView(endpoint)) }, 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/v1/webhook-endpoints/{id}', tags: ['Outbound webhooks'], summary: 'Get an endpoint', security, request: { params }, responses: { 200: json(EndpointSchema, 'The endpoint'), ...errors } }),
    async (c) => c.json(endpointView(await endpoints.get(c.get('environmentId'), c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/webhook-endpoints/{id}',
      tags: ['Outbound webhooks'],
      summary: 'Update an endpoint (enabling it again clears why it was disabled)',
      security,
      request: { params, body: { required: true, content: { 'application/json': { schema: UpdateEndpointSchema } } } },
      responses: { 200: json(EndpointSchema, 'The updated endpoint'), ...errors },
    }),
    async (c) => c.json(endpointView(await endpoints.update(c.get('environmentId'), c.req.valid('param').id, c.req.valid('json'))), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/webhook-endpoints/{id}',
      tags: ['Outbound webhooks'],
      summary: 'Delete an endpoint; its pending deliveries are dropped',
      security,
      request: { params, body: noBody },
      responses: { 204: { description: 'Deleted' }, ...errors },
    }),
    async (c) => {
      await endpoints.delete(c.get('environmentId'), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-endpoints/{id}/rotate-secret',
      tags: ['Outbound webhooks'],
      summary: 'Issue a new signing secret; the old one keeps signing beside it for the grace period',
      security,
      request: { params, body: { required: false, content: { 'application/json': { schema: RotateSchema } } } },
      responses: { 200: json(EndpointSchema, 'The endpoint with its new secret (shown once)'), ...errors },
    }),
    async (c) => {
      // {} when no body was sent
      const { graceSeconds } = c.req.valid('json');
      const graceMs = graceSeconds === undefined ? undefined : graceSeconds * 1000;
      const { endpoint, secret } = await endpoints.rotateSecret(c.get('environmentId'), c.req.valid('param').id, graceMs);
      return c.json(endpointView(endpoint, secret), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhook-endpoints/{id}/deliveries',
      tags: ['Outbound webhooks'],
      summary: "An endpoint's deliveries, newest first",
      security,
      request: {
        params,
        query: z.object({
          status: z.enum(['pending', 'succeeded', 'failed']).optional(),
          eventType: z.string().max(64).optional(),
          from: z.string().optional(),
          to: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
          cursor: z.string().max(500).optional(),
        }),
      },
      responses: { 200: json(z.object({ data: z.array(DeliverySchema), next: z.string().nullable() }), 'A page of deliveries'), ...errors },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const endpoint = await endpoints.get(environmentId, c.req.valid('param').id);
      const query = c.req.valid('query');
      const page = await context.store.listDeliveries(environmentId, endpoint.id, {
        status: query.status,
        eventType: query.eventType,
        from: timeParam(query.from),
        to: timeParam(query.to),
        limit: query.limit,
        cursor: query.cursor,
      });
      return c.json({ data: page.data.map(deliveryView), next: page.next }, 200);
    },
  );

  const deliveryParams = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhook-deliveries/{id}',
      tags: ['Outbound webhooks'],
      summary: 'A delivery and every attempt at it',
      security,
      request: { params: deliveryParams },
      responses: { 200: json(DeliveryDetailSchema, 'The delivery with its attempts'), ...errors },
    }),
    async (c) => {
      const found = await context.store.getDelivery(c.get('environmentId'), c.req.valid('param').id);
      if (!found) throw new MailtrailError('MT_ERR_NOT_FOUND', `no webhook delivery ${c.req.valid('param').id}`);
      const history = found.attempts.map(({ attempt, startedAt, durationMs, statusCode, responseBody, error }) => ({
        attempt,
        startedAt: iso(startedAt)!,
        durationMs,
        statusCode,
        responseBody,
        error,
      }));
      return c.json({ ...deliveryView(found.delivery), history }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-deliveries/{id}/retry',
      tags: ['Outbound webhooks'],
      summary: 'Send a finished delivery again now (same webhook-id)',
      security,
      request: { params: deliveryParams, body: noBody },
      responses: { 202: json(DeliverySchema, 'Due again'), 409: json(ErrorSchema, 'The delivery is still pending'), ...errors },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const id = c.req.valid('param').id;
      if (!(await context.store.getDelivery(environmentId, id))) throw new MailtrailError('MT_ERR_NOT_FOUND', `no webhook delivery ${id}`);
      if (!(await context.store.retryDelivery(environmentId, id, context.now()))) throw new MailtrailError('MT_ERR_CONFLICT', 'the delivery is still pending');
      context.afterCommit?.(true);
      return c.json(deliveryView((await context.store.getDelivery(environmentId, id))!.delivery), 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-endpoints/{id}/recover',
      tags: ['Outbound webhooks'],
      summary: 'Send again every failed delivery of the endpoint created since a time',
      security,
      request: { params, body: { required: true, content: { 'application/json': { schema: z.object({ since: z.string().openapi({ format: 'date-time' }) }).strict() } } } },
      responses: { 202: json(z.object({ recovered: z.number().int() }), 'How many deliveries are due again'), ...errors },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const endpoint = await endpoints.get(environmentId, c.req.valid('param').id);
      const since = timeParam(c.req.valid('json').since);
      if (since === undefined) throw new MailtrailError('MT_ERR_VALIDATION', 'since: an ISO 8601 time');
      const recovered = await context.store.recoverDeliveries(environmentId, endpoint.id, since, context.now());
      context.afterCommit?.(true);
      return c.json({ recovered }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhook-endpoints/{id}/test',
      tags: ['Outbound webhooks'],
      summary: 'Send a signed test event (type webhook.test) now and report the answer',
      security,
      request: { params, body: noBody },
      responses: {
        200: json(
          z.object({ ok: z.boolean(), statusCode: z.number().int().nullable(), durationMs: z.number().int(), responseBody: z.string().nullable(), error: z.string().nullable() }),
          'What the endpoint answered',
        ),
        ...errors,
      },
    }),
    async (c) => {
      const endpoint = await endpoints.get(c.get('environmentId'), c.req.valid('param').id);
      const response = await context.sendTestEvent(endpoint);
      return c.json({ ok: succeeded(response), statusCode: response.statusCode, durationMs: response.durationMs, responseBody: response.body, error: response.error }, 200);
    },
  );

  return app;
}

function timeParam(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}
