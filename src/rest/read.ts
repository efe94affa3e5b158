/** GET and HEAD on a table or view. */
import type { Context } from 'hono';
import type { KeyEnv } from '../platform/keys.js';
import { requestClaims } from './claims.js';
import type { RestContext } from './context.js';
import { execute, type ReadRow } from './execute.js';
import { planRead } from './plan-read.js';
import { checkAggregatesAllowed } from './plan-aggregate.js';
import { parseRestRequest, type ReadRequest } from './request.js';
import { readRestInput } from './request-http.js';
import { respondRead } from './respond.js';

export async function read(ctx: RestContext, c: Context<KeyEnv>): Promise<Response> {
  // The token first: without a valid one, nothing about the schema is revealed.
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const request = parseRestRequest(
    await readRestInput(c, 'relation'),
    ctx.services.config.rest.schemas,
    cache,
  ) as ReadRequest;
  checkAggregatesAllowed(request.query.select, ctx.services.config.rest.aggregatesEnabled);
  const plan = planRead(cache, request.relation, request.query, {
    count: request.prefer.count,
    maxRows: ctx.services.config.rest.maxRows,
  });
  const row = await execute<ReadRow>(ctx, claims, plan, { readOnly: true });
  return respondRead(c, request, row);
}
