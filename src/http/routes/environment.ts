import { OpenAPIHono, createRoute } from '@hono/zod-openapi';
import { MailtrailError } from '../../core/errors.js';
import type { TrackingSwitches } from '../../engagement/instrument-message.js';
import type { Environment, EnvironmentTracking } from '../../store/types.js';
import { iso } from '../../views/time.js';
import type { AppContext, AppEnv } from '../context.js';
import { EnvironmentSchema, ErrorSchema, UpdateEnvironmentSchema } from '../schemas.js';

const security = [{ ApiKey: [] }];
const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });
const environmentJson = (description: string) => ({ description, content: { 'application/json': { schema: EnvironmentSchema } } });

/** What a message gets for each switch its request leaves out: the environment's setting, else the server's. */
export function trackingSwitches(requested: EnvironmentTracking | undefined, environment: Environment | null, defaults: TrackingSwitches): TrackingSwitches {
  const own = environment?.tracking ?? {};
  return {
    opens: requested?.opens ?? own.opens ?? defaults.opens,
    clicks: requested?.clicks ?? own.clicks ?? defaults.clicks,
    unsubscribe: requested?.unsubscribe ?? own.unsubscribe ?? defaults.unsubscribe,
  };
}

/** The API key's own environment: its name and its defaults for first-party tracking. */
export function environmentRoutes(context: AppContext, hooks: ConstructorParameters<typeof OpenAPIHono<AppEnv>>[0]) {
  const app = new OpenAPIHono<AppEnv>(hooks);
  const view = (environment: Environment) => ({
    id: environment.id,
    name: environment.name,
    tracking: trackingSwitches(undefined, environment, context.tracking.defaults),
    createdAt: iso(environment.createdAt),
  });
  const load = async (id: string) => {
    const environment = await context.store.getEnvironment(id);
    // the key's environment was deleted after the key was checked
    if (!environment) throw new MailtrailError('MT_ERR_NOT_FOUND', 'this environment no longer exists');
    return environment;
  };

  app.openapi(
    createRoute({
      method: 'get',
      path: '/v1/environment',
      tags: ['Environment'],
      summary: "The API key's environment",
      security,
      responses: { 200: environmentJson('The environment, with the tracking each message gets by default'), 401: error('Missing or invalid API key') },
    }),
    async (c) => c.json(view(await load(c.get('environmentId'))), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/v1/environment',
      tags: ['Environment'],
      summary: "Sets the environment's tracking defaults",
      description: 'Opens, clicks and unsubscribe for messages registered from now on whose request does not say; the switches not named keep their value.',
      security,
      request: { body: { required: true, content: { 'application/json': { schema: UpdateEnvironmentSchema } } } },
      responses: { 200: environmentJson('Updated'), 400: error('Invalid request'), 401: error('Missing or invalid API key') },
    }),
    async (c) => {
      const environmentId = c.get('environmentId');
      const updated = await context.store.setEnvironmentTracking(environmentId, c.req.valid('json').tracking);
      return c.json(view(updated ?? (await load(environmentId))), 200);
    },
  );

  return app;
}
