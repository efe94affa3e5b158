/** /rest/v1: PostgREST's HTTP surface over the planner, run as the caller's role under RLS. */
import { Hono } from 'hono';
import { ApiError } from '../errors.js';
import { apiRateLimit } from '../platform/api-limits.js';
import { limitBody } from '../platform/body.js';
import { requireApiKey, type KeyEnv } from '../platform/keys.js';
import type { Services } from '../services.js';
import { schemaCacheHolder } from './cache.js';
import type { RestContext } from './context.js';
import { openApiRoot } from './openapi.js';
import { read } from './read.js';
import { createResponseCache } from './response-cache/index.js';
import { rpc } from './rpc.js';
import { write } from './write.js';

export { POSTGREST_VERSION } from './openapi.js';

export function restRoutes(services: Services): Hono<KeyEnv> {
  const ctx: RestContext = {
    services,
    cache: schemaCacheHolder(services.db, services.config.rest.schemas, services.log, services.config.rest),
    responses: createResponseCache(services),
  };
  const app = new Hono<KeyEnv>();
  app.use('*', requireApiKey(services.tokens));
  const rateLimit = apiRateLimit(services, 'rest');
  if (rateLimit) app.use('*', rateLimit);
  app.use(
    '*',
    limitBody(ctx.services.config.rest.maxBodyBytes, () => {
      throw new ApiError(413, 'PGRST413', 'Payload Too Large', { headers: { connection: 'close' } });
    }),
  );
  app.on(['GET', 'HEAD'], '/:relation', (c) => read(ctx, c));
  app.post('/:relation', (c) => write(ctx, c));
  app.patch('/:relation', (c) => write(ctx, c));
  app.delete('/:relation', (c) => write(ctx, c));
  app.on(['GET', 'HEAD', 'POST'], '/rpc/:fn', (c) => rpc(ctx, c));
  // The OpenAPI root, `/rest/v1/` as clients write it (a mounted '/' matches only `/rest/v1`).
  app.on(['GET', 'HEAD'], '/', (c) => openApiRoot(ctx, c));
  app.on(['GET', 'HEAD'], '/*', (c, next) =>
    c.req.path === `${c.req.routePath.replace(/\/\*$/, '')}/` ? openApiRoot(ctx, c) : next(),
  );
  return app;
}
