/** GET and HEAD on a table or view. */
import type { Context } from 'hono';
import { ident } from '../db/index.js';
import { ApiError } from '../errors.js';
import type { KeyEnv } from '../platform/keys.js';
import { requestClaims } from './claims.js';
import type { RestContext } from './context.js';
import { transactionEnd } from './db-config.js';
import { execute, type ReadRow } from './execute.js';
import { plansDisabled, respondPlan } from './explain.js';
import { planRead } from './plan-read.js';
import { checkAggregatesAllowed } from './plan-aggregate.js';
import { parseRestRequest, type ReadRequest } from './request.js';
import { readRestInput, requestGucs } from './request-http.js';
import { respondRead } from './respond.js';

export async function read(ctx: RestContext, c: Context<KeyEnv>): Promise<Response> {
  // The token first: without a valid one, nothing about the schema is revealed.
  const claims = await requestClaims(ctx, c);
  const cache = await ctx.cache.get();
  const settings = await ctx.cache.settings();
  const request = parseRestRequest(
    await readRestInput(c, 'relation'),
    ctx.services.config.rest.schemas,
    cache,
  ) as ReadRequest;
  // The database's pgrst.db_aggregates_enabled over REST_DB_AGGREGATES_ENABLED (db-config.ts).
  checkAggregatesAllowed(request.query.select, settings.aggregatesEnabled);
  if (request.plan && !settings.planEnabled) throw plansDisabled(request.plan);
  if (request.geojson && !settings.postgisSchema) throw noGeoJson();
  const plan = () =>
    planRead(cache, request.relation, request.query, {
      count: request.prefer.count,
      maxRows: settings.maxRows,
      csv: request.csv,
      ...(request.geojson && settings.postgisSchema && { geojson: `${ident(settings.postgisSchema)}.st_asgeojson` }),
    });
  const { rollback } = transactionEnd(settings.txEnd, request.prefer.tx);
  const gucs = () =>
    requestGucs(c, [request.schema, ...ctx.services.config.rest.extraSearchPath], ctx.services.config.trustProxy);
  if (request.plan)
    return respondPlan(ctx, c, claims, request.plan, plan(), { readOnly: true, rollback, gucs: gucs() });
  // Planned only on a miss: a cached answer needs neither the plan nor the database.
  return ctx.responses.serve(c, request, claims, cache, async () => {
    const row = await execute<ReadRow>(ctx, claims, plan(), {
      readOnly: true,
      maxRows: settings.maxRows,
      gucs: gucs(),
      ...(await ctx.services.fences.readOptions(c, claims, badFence)),
    });
    return respondRead(c, request, row);
  });
}

/** A malformed x-trellis-lsn: the client sent back something no write answered. */
export function badFence(message: string): ApiError {
  return new ApiError(400, 'PGRST100', message, {
    details: null,
    hint: 'Send back the x-trellis-lsn a write answered, or no header.',
  });
}

/** PostgREST offers application/geo+json only where PostGIS is installed. */
function noGeoJson(): ApiError {
  return new ApiError(406, 'PGRST107', 'None of these media types are available: application/geo+json', {
    details: null,
    hint: null,
  });
}
