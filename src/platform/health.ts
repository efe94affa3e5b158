/** GET /health (the process lives), /ready (database answers, migrations applied), /metrics. */
import { Hono } from 'hono';
import type { HttpEnv } from './http.js';
import type { Metrics } from './metrics.js';

export interface Readiness {
  /** Resolves to the name of what is not ready yet, or undefined when everything is. */
  check(): Promise<string | undefined>;
  /** Ready, but something works only in part (e.g. Redis is away: realtime reaches one instance only). */
  degraded?(): readonly string[];
}

export function healthRoutes(readiness: Readiness, metrics: Metrics): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', async (c) => {
    const failing = await readiness.check();
    if (failing !== undefined) return c.json({ status: 'not ready', reason: failing }, 503);
    // Degraded stays 200: a load balancer must not take every instance out when the shared Redis blips.
    const degraded = readiness.degraded?.() ?? [];
    return c.json(degraded.length === 0 ? { status: 'ready' } : { status: 'ready', degraded });
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  return app;
}
