import { OpenAPIHono } from '@hono/zod-openapi';
import { MailtrailError } from '../core/errors.js';
import { requireApiKey } from './auth.js';
import type { AppContext, AppEnv } from './context.js';
import { handleError, notFound } from './errors.js';
import { isJsonContentType, readJsonBody } from './json-body.js';
import { environmentRoutes } from './routes/environment.js';
import { inboundRoutes } from './routes/inbound.js';
import { integrationRoutes } from './routes/integrations.js';
import { messageRoutes } from './routes/messages.js';
import { operationRoutes } from './routes/operations.js';
import { trackingRoutes } from './routes/tracking.js';
import { webhookAliasRoutes } from './routes/webhook-alias.js';
import { webhookEndpointRoutes } from './routes/webhook-endpoints.js';

/** The whole HTTP API as one Hono app: `app.fetch(request)` serves it on any runtime. */
export function createApp(context: AppContext): OpenAPIHono<AppEnv> {
  const hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0] = {
    defaultHook: (result, c) => {
      // A required JSON body with no content-type (and so, past the media-type check, no body) is validated as {}:
      // an empty PATCH would succeed and change nothing, a POST would name missing fields instead of the body.
      if (result.target === 'json' && !isJsonContentType(c.req.header('content-type'))) {
        throw new MailtrailError('MT_ERR_INVALID_BODY', 'this route takes a JSON body, sent with content-type application/json');
      }
      if (!result.success) {
        const issue = result.error.issues[0];
        const where = issue?.path.length ? `${issue.path.join('.')}: ` : result.target === 'json' ? 'body: ' : '';
        throw new MailtrailError('MT_ERR_VALIDATION', `${where}${issue?.message ?? 'invalid request'}`);
      }
    },
  };
  const app = new OpenAPIHono<AppEnv>(hooks);

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    context.metrics.requestDuration.observe(
      { method: c.req.method, route: c.req.routePath || 'unmatched', status: String(c.res.status) },
      (performance.now() - started) / 1000,
    );
  });
  app.use('/v1/*', requireApiKey(context));
  app.use('/v1/*', readJsonBody(context.bodyLimit));

  app.route('/', operationRoutes(context, hooks));
  app.route('/', inboundRoutes(context, hooks));
  app.route('/', integrationRoutes(context, hooks));
  app.route('/', messageRoutes(context, hooks));
  app.route('/', environmentRoutes(context, hooks));
  app.route('/', webhookEndpointRoutes(context, hooks));
  app.route('/', webhookAliasRoutes(context, hooks));
  // at the root, with no API key: these URLs are in the emails
  app.route('/', trackingRoutes(context));

  app.openAPIRegistry.registerComponent('securitySchemes', 'ApiKey', {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'Authorization: ApiKey <key> (Bearer <key> also works)',
  });
  app.doc31('/openapi.json', {
    openapi: '3.1.0',
    info: {
      title: 'Mailtrail',
      version: '0.1.0',
      description: 'Email activity tracking hub: verified provider webhooks, one event vocabulary, per-message timelines.',
    },
  });

  app.onError((error, c) => handleError(error, c, context.log));
  app.notFound(notFound);
  return app;
}
