/**
 * The API gateway's job on Supabase: every request under /auth, /rest, /realtime and /storage
 * carries an `apikey` (header or query parameter) that is a JWT signed with the project's secret for
 * the anon or service_role role. The bearer token, when present, decides who the caller is.
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from '../errors.js';
import { GATEWAY_ERROR, headerOf, type HttpEnv } from './http.js';
import type { Tokens } from './tokens.js';

export interface KeyEnv {
  Variables: HttpEnv['Variables'] & {
    apikeyRole: 'anon' | 'service_role';
    /** The RateLimit-* headers set on this answer, for a handler that writes Node's response itself. */
    rateLimitHeaders?: Readonly<Record<string, string>>;
  };
}

export function requireApiKey(tokens: Tokens): MiddlewareHandler<KeyEnv> {
  return async (c, next) => {
    const apikey = headerOf(c, 'apikey') ?? c.req.query('apikey');
    if (!apikey) {
      throw new ApiError(401, GATEWAY_ERROR, 'No API key found in request', {
        hint: 'No `apikey` request header or url param was found.',
      });
    }
    const claims = await tokens.verify(apikey).catch(() => undefined);
    if (!claims || (claims.role !== 'anon' && claims.role !== 'service_role')) {
      throw new ApiError(401, GATEWAY_ERROR, 'Invalid API key', {
        hint: 'Double check your Supabase `anon` or `service_role` API key.',
      });
    }
    c.set('apikeyRole', claims.role);
    await next();
  };
}
