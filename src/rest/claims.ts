/** The caller of a /rest/v1 request: the JWT's claims, checked before anything else is read. */
import type { Context } from 'hono';
import type { Claims } from '../db/index.js';
import { ApiError } from '../errors.js';
import { headerOf } from '../platform/http.js';
import type { KeyEnv } from '../platform/keys.js';
import { bearerToken, describeProblem } from '../platform/tokens.js';
import type { RestContext } from './context.js';

/** The JWT's claims (the user's access token, or the apikey's role when there is none). */
export async function requestClaims(ctx: RestContext, c: Context<KeyEnv>): Promise<Claims> {
  const check = await ctx.services.tokens.checkBearer(bearerToken(headerOf(c, 'authorization')), {
    fallbackRole: c.get('apikeyRole'),
  });
  if (check.ok) return check.claims;
  const why = describeProblem(check.problem);
  if (check.problem.kind === 'not_api_role') throw new ApiError(401, 'PGRST301', why);
  throw new ApiError(401, 'PGRST301', check.problem.kind === 'expired' ? 'JWT expired' : `JWT invalid: ${why}`, {
    headers: { 'www-authenticate': `Bearer error="invalid_token", error_description="${why}"` },
  });
}
