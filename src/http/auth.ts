import type { MiddlewareHandler } from 'hono';
import { MailtrailError } from '../core/errors.js';
import { apiKeyFromHeader, hashApiKey } from '../security/api-keys.js';
import type { AppContext, AppEnv } from './context.js';

/** `Authorization: ApiKey <key>` (or `Bearer <key>`) → the key's environment, or 401. */
export function requireApiKey(app: AppContext): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const key = apiKeyFromHeader(c.req.header('authorization'));
    if (!key) throw new MailtrailError('MT_ERR_UNAUTHORIZED', 'send your API key as "Authorization: ApiKey <key>"');
    const environmentId = await app.store.findEnvironmentByKeyHash(hashApiKey(key));
    if (!environmentId) throw new MailtrailError('MT_ERR_UNAUTHORIZED', 'the API key is not valid');
    c.set('environmentId', environmentId);
    await next();
  };
}
