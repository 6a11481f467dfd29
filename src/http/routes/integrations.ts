import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppContext, AppEnv } from '../context.js';
import { noBody } from '../json-body.js';
import type { InboundCredentials } from '../../service/integrations.js';
import type { Integration } from '../../store/types.js';
import { CreateIntegrationSchema, ErrorSchema, IntegrationNoticeSchema, IntegrationSchema, UpdateIntegrationSchema } from '../schemas.js';
import { integrationView, noticeView } from '../../views/integration.js';

const security = [{ ApiKey: [] }];
const errors = {
  400: { description: 'Invalid request', content: { 'application/json': { schema: ErrorSchema } } },
  401: { description: 'Missing or invalid API key', content: { 'application/json': { schema: ErrorSchema } } },
  404: { description: 'No such integration in this environment', content: { 'application/json': { schema: ErrorSchema } } },
};
const params = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) });
const json = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { 'application/json': { schema } } });

export function integrationRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);
  const view = (integration: Integration, credentials: InboundCredentials | null = null) =>
    integrationView(integration, context.publicUrl, context.providers.get(integration.provider)?.auth ?? 'signature', credentials);

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/integrations',
      tags: ['Integrations'],
      summary: 'Connect a provider',
      security,
      request: { body: { required: true, content: { 'application/json': { schema: CreateIntegrationSchema } } } },
      responses: { 201: json(IntegrationSchema, 'The integration, with the URL to give the provider'), ...errors },
    }),
    async (c) => {
      const { integration, credentials } = await context.integrations.create(c.get('environmentId'), c.req.valid('json'));
      return c.json(view(integration, credentials), 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/integrations',
      tags: ['Integrations'],
      summary: 'List integrations',
      security,
      responses: { 200: json(z.object({ data: z.array(IntegrationSchema) }), 'Every integration of the environment'), 401: errors[401] },
    }),
    async (c) => c.json({ data: (await context.integrations.list(c.get('environmentId'))).map((integration) => view(integration)) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/integrations/{id}',
      tags: ['Integrations'],
      summary: 'Get an integration',
      security,
      request: { params },
      responses: { 200: json(IntegrationSchema, 'The integration'), ...errors },
    }),
    async (c) => c.json(view(await context.integrations.get(c.get('environmentId'), c.req.valid('param').id)), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/integrations/{id}',
      tags: ['Integrations'],
      summary: 'Update an integration (name, signing key, settings, status mapping, activity tracking)',
      security,
      request: { params, body: { required: true, content: { 'application/json': { schema: UpdateIntegrationSchema } } } },
      responses: { 200: json(IntegrationSchema, 'The updated integration'), ...errors },
    }),
    async (c) => c.json(view(await context.integrations.update(c.get('environmentId'), c.req.valid('param').id, c.req.valid('json'))), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/v1/integrations/{id}',
      tags: ['Integrations'],
      summary: 'Delete an integration; its messages and events are kept',
      security,
      request: { params, body: noBody },
      responses: { 204: { description: 'Deleted' }, ...errors },
    }),
    async (c) => {
      await context.integrations.delete(c.get('environmentId'), c.req.valid('param').id);
      return c.body(null, 204);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/v1/integrations/{id}/rotate-credentials',
      tags: ['Integrations'],
      summary: 'Issue new inbound credentials (providers that do not sign); the old ones stop working at once',
      security,
      request: { params, body: noBody },
      responses: { 200: json(IntegrationSchema, 'The integration with its new credentials, shown once'), ...errors },
    }),
    async (c) => {
      const { integration, credentials } = await context.integrations.rotateCredentials(c.get('environmentId'), c.req.valid('param').id);
      return c.json(view(integration, credentials), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/integrations/{id}/notices',
      tags: ['Integrations'],
      summary: 'What happened to the integration besides events (SNS subscriptions confirmed or ended), newest first',
      security,
      request: { params },
      responses: { 200: json(z.object({ data: z.array(IntegrationNoticeSchema) }), 'The latest 100 notices'), ...errors },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const integration = await context.integrations.get(environmentId, c.req.valid('param').id);
      const notices = await context.store.listIntegrationNotices(environmentId, integration.id, 100);
      return c.json({ data: notices.map(noticeView) }, 200);
    },
  );

  return app;
}
