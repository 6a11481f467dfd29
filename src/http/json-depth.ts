import type { MiddlewareHandler } from 'hono';
import { MailtrailError } from '../core/errors.js';
import { MAX_JSON_DEPTH, nestsDeeperThan } from '../core/json-depth.js';
import type { AppEnv } from './context.js';

/**
 * Refuses a management API body nested deeper than ingest accepts, before a validator walks it: message metadata or
 * integration settings that deep would be stored, and then every read of them would run out of stack.
 */
export function limitJsonDepth(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const type = c.req.header('content-type')?.toLowerCase() ?? '';
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && type.includes('json')) {
      // Hono keeps the text, so the route's own JSON validator reads the same body afterwards.
      const text = await c.req.text();
      if (nestsDeeperThan(text)) throw new MailtrailError('MT_ERR_BODY_TOO_DEEP', `the body nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep`);
    }
    await next();
  };
}
