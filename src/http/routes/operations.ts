import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { AppContext, AppEnv } from '../context.js';
import { errorBody, STORAGE_RETRY_AFTER_SECONDS } from '../errors.js';

export function operationRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);
  const status = z.object({ status: z.string() });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/healthz',
      tags: ['Operations'],
      summary: 'The process is up',
      responses: { 200: { description: 'Up', content: { 'application/json': { schema: status } } } },
    }),
    (c) => c.json({ status: 'ok' }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/readyz',
      tags: ['Operations'],
      summary: 'The database is reachable',
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: status } } },
        503: { description: 'The database is not reachable', content: { 'application/json': { schema: z.unknown() } } },
      },
    }),
    async (c) => {
      try {
        await context.store.ping();
        return c.json({ status: 'ok' }, 200);
      } catch (error) {
        context.log.warn({ err: error }, 'readiness check failed');
        return c.json(errorBody('MT_ERR_STORAGE_UNAVAILABLE', 'the database is not reachable'), 503, { 'retry-after': String(STORAGE_RETRY_AFTER_SECONDS) });
      }
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/metrics',
      tags: ['Operations'],
      summary: 'Prometheus metrics',
      responses: { 200: { description: 'Metrics in the Prometheus text format', content: { 'text/plain': { schema: z.string() } } } },
    }),
    async (c) => c.body(await context.metrics.registry.metrics(), 200, { 'content-type': context.metrics.registry.contentType }) as never,
  );

  return app;
}
