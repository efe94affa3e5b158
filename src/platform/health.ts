/** GET /health (the process lives), /ready (database answers, migrations applied), /metrics. */
import { Hono } from 'hono';
import { ApiError } from '../errors.js';
import { GATEWAY_ERROR, headerOf, type HttpEnv } from './http.js';
import type { Metrics } from './metrics.js';
import { bearerToken, type Tokens } from './tokens.js';

/** Who may read /metrics: anyone (METRICS_PUBLIC), or a caller with the service_role key. */
export type MetricsAccess = { readonly public: true } | { readonly public: false; readonly tokens: Tokens };

export interface Readiness {
  /** Resolves to the name of what is not ready yet, or undefined when everything is. */
  check(): Promise<string | undefined>;
  /** True from SIGTERM on: the load balancer must send no new work, though requests are still served. */
  draining?(): boolean;
  /** Ready, but something works only in part (e.g. Redis is away: realtime reaches one instance only). */
  degraded?(): readonly string[];
  /**
   * Extra sections of the 200 answer (e.g. `backup`: last success, archive lag). Reported, never a
   * reason for 503: a load balancer must not drop a serving instance because a backup is late.
   */
  sections?(): Readonly<Record<string, unknown>> | Promise<Readonly<Record<string, unknown>>>;
}

/** `more`: series another process keeps (a worker's primary: the backups'), appended to /metrics. */
export function healthRoutes(
  readiness: Readiness,
  metrics: Metrics,
  access: MetricsAccess,
  more?: () => Promise<string>,
): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', async (c) => {
    if (readiness.draining?.() === true) return c.json({ status: 'draining' }, 503);
    const failing = await readiness.check();
    if (failing !== undefined) return c.json({ status: 'not ready', reason: failing }, 503);
    // Degraded stays 200: a load balancer must not take every instance out when the shared Redis blips.
    const degraded = readiness.degraded?.() ?? [];
    const sections = (await readiness.sections?.()) ?? {};
    return c.json({ status: 'ready', ...(degraded.length > 0 && { degraded }), ...sections });
  });
  app.get('/metrics', async (c) => {
    // The metrics name every route and its traffic: by default only an operator's scraper reads them.
    if (!access.public)
      await requireServiceRole(access.tokens, headerOf(c, 'apikey') ?? bearerToken(headerOf(c, 'authorization')));
    const [own, others] = await Promise.all([metrics.registry.metrics(), more?.() ?? '']);
    return c.body(others ? `${own}\n${others}` : own, 200, { 'content-type': metrics.registry.contentType });
  });
  return app;
}

/** The service_role key (apikey header or bearer token), with the API gateway's answers otherwise. */
async function requireServiceRole(tokens: Tokens, key: string | undefined): Promise<void> {
  if (!key)
    throw new ApiError(401, GATEWAY_ERROR, 'No API key found in request', {
      hint: 'GET /metrics needs the service_role key (apikey header or bearer token), or METRICS_PUBLIC=true.',
    });
  const claims = await tokens.verify(key).catch(() => undefined);
  if (claims?.role !== 'service_role')
    throw new ApiError(401, GATEWAY_ERROR, 'Invalid API key', { hint: 'GET /metrics needs the service_role key.' });
}
