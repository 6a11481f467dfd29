import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import { MailtrailError } from '../../core/errors.js';
import type { AppContext, AppEnv } from '../context.js';
import { ErrorSchema, InboundItemSchema } from '../schemas.js';
import { receiveAt } from './inbound.js';

const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });

/**
 * `POST /track/webhook/:providerId`, the path headless mailers give their providers: the default environment's
 * integration of that provider configured in code (`createMailtrail({ providers })`) receives the request exactly
 * as at its inbound URL (same checks, same answer).
 */
export function webhookAliasRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);
  // Registered for the OpenAPI document only: the handler reads the raw body itself (see inbound.ts).
  app.openAPIRegistry.registerPath(
    createRoute({
      method: 'post',
      path: '/track/webhook/{providerId}',
      tags: ['Inbound'],
      summary: "Receive a provider's event webhook at the integration configured in code",
      description:
        "For an embedded Mailtrail: the integration of this provider configured in code (createMailtrail's providers option) in the " +
        'default environment (the environmentId or environment option, else the only environment) receives the request as at its inbound URL.',
      request: { params: z.object({ providerId: z.string().openapi({ param: { name: 'providerId', in: 'path' }, example: 'resend' }) }) },
      responses: {
        200: { description: 'Every event is stored; one item per normalized event', content: { 'application/json': { schema: z.array(InboundItemSchema) } } },
        401: error('Missing, stale, replayed or wrong signature'),
        404: error('No integration of this provider is configured in code in the default environment (MT_ERR_INTEGRATION_NOT_FOUND)'),
        409: error('Several are, or the default environment is not decided (MT_ERR_CONFLICT)'),
        500: error('A body parser of the host app read the body first (MT_ERR_BODY_CONSUMED)'),
      },
    }),
  );
  app.post('/track/webhook/:providerId', async (c) => {
    const { providerId } = c.req.param() as { providerId: string };
    const { environmentId, integrationId } = await resolve(context, providerId);
    return receiveAt(c, context, environmentId, integrationId, '/track/webhook/');
  });
  // as at inbound URLs: providers check that a URL answers before saving it
  app.on(['HEAD', 'GET'], '/track/webhook/:providerId', (c) => c.body(null, 200));
  return app;
}

async function resolve(context: AppContext, providerId: string): Promise<{ environmentId: string; integrationId: string }> {
  const environmentId = await context.defaultEnvironment.current();
  const found = await context.configuredProviders.find(environmentId, providerId);
  if (found.length === 0) {
    throw new MailtrailError('MT_ERR_INTEGRATION_NOT_FOUND', `no ${providerId} integration is configured in code: add it to the providers option of createMailtrail, or use its inbound URL`);
  }
  if (found.length > 1) {
    throw new MailtrailError(
      'MT_ERR_CONFLICT',
      `${found.length} ${providerId} integrations are configured in code, so this URL cannot tell them apart: give the provider each one's inbound URL instead`,
    );
  }
  return { environmentId, integrationId: found[0]!.id };
}
