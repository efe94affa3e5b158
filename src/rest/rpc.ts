/** POST/GET/HEAD /rpc/fn: a function call (planned by plan-rpc.ts). */
import type { Context } from 'hono';
import type { KeyEnv } from '../platform/keys.js';
import { requestClaims } from './claims.js';
import type { RestContext } from './context.js';
import { execute, type ReadRow } from './execute.js';
import { planRpc } from './plan-rpc.js';
import { parseRestRequest, type RpcRequest } from './request.js';
import { readRestInput } from './request-http.js';
import { respondRpc } from './respond.js';

export async function rpc(ctx: RestContext, c: Context<KeyEnv>): Promise<Response> {
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const request = parseRestRequest(
    await readRestInput(c, 'function'),
    ctx.services.config.rest.schemas,
    cache,
  ) as RpcRequest;
  const plan = planRpc(cache, request, ctx.services.config.rest.maxRows);
  const row = await execute<ReadRow>(ctx, claims, plan, {
    prefer: request.prefer,
    readOnly: plan.readOnly,
    mayExceedCap: true,
  });
  return respondRpc(c, request, row, plan);
}
