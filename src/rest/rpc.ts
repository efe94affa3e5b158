/** POST/GET/HEAD /rpc/fn: a function call (planned by plan-rpc.ts). */
import type { Context } from 'hono';
import type { KeyEnv } from '../platform/keys.js';
import { requestClaims } from './claims.js';
import type { RestContext } from './context.js';
import { maxAffectedViolation } from './errors.js';
import { execute, type ReadRow } from './execute.js';
import { planRpc } from './plan-rpc.js';
import { checkAggregatesAllowed } from './plan-aggregate.js';
import { parseSelect } from './parse-select.js';
import { parseRestRequest, type RpcRequest } from './request.js';
import { readRestInput, requestGucs } from './request-http.js';
import { transactionEnd, withTx } from './db-config.js';
import { plansDisabled, respondPlan } from './explain.js';
import { respondRpc } from './respond.js';
import { badFence } from './read.js';

export async function rpc(ctx: RestContext, c: Context<KeyEnv>): Promise<Response> {
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const settings = await ctx.cache.settings();
  const parsed = parseRestRequest(
    await readRestInput(c, 'function'),
    ctx.services.config.rest.schemas,
    cache,
  ) as RpcRequest;
  if (parsed.plan && !settings.planEnabled) throw plansDisabled(parsed.plan);
  const tx = transactionEnd(settings.txEnd, parsed.prefer.tx);
  const request: RpcRequest = { ...parsed, prefer: withTx(parsed.prefer, tx.applied) };
  const plan = planRpc(cache, request, settings.maxRows);
  // After planning, so that an unknown function or a malformed select= is answered first.
  const select = request.params.find(([key]) => key === 'select')?.[1];
  if (select !== undefined) checkAggregatesAllowed(parseSelect(select), settings.aggregatesEnabled);
  const gucs = requestGucs(
    c,
    [request.schema, ...ctx.services.config.rest.extraSearchPath],
    ctx.services.config.trustProxy,
  );
  if (request.plan)
    return respondPlan(ctx, c, claims, request.plan, plan, { readOnly: plan.readOnly, rollback: tx.rollback, gucs });
  const row = await execute<ReadRow>(ctx, claims, plan, {
    prefer: request.prefer,
    readOnly: plan.readOnly,
    mayExceedCap: true,
    check: maxAffectedCheck(request),
    rollback: tx.rollback,
    maxRows: settings.maxRows,
    gucs,
    // GET calls and calls of stable functions run read-only (as PostgREST runs them): a replica may serve them.
    ...(plan.readOnly
      ? await ctx.services.fences.readOptions(c, claims, badFence)
      : { onCommitLsn: ctx.services.fences.onWrite(c, claims) }),
  });
  return respondRpc(c, request, row, plan);
}

/**
 * Prefer: max-affected=n, handling=strict: a call answering more than n rows is rolled back (checked
 * before COMMIT, so what the function wrote is undone). Only set-returning functions get here:
 * planRpc refuses the preference on the others.
 */
function maxAffectedCheck(request: RpcRequest): ((row: ReadRow) => void) | undefined {
  const { maxAffected, handling } = request.prefer;
  if (maxAffected === undefined || handling !== 'strict') return undefined;
  return (row) => {
    const affected = Number(row.page);
    if (affected > maxAffected) throw maxAffectedViolation(affected);
  };
}
