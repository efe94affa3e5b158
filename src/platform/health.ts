/** GET /health (the process lives), /ready (database answers, migrations applied), /metrics. */
import { Hono } from 'hono';
import type { HttpEnv } from './http.js';
import type { Metrics } from './metrics.js';

export interface Readiness {
  /** Resolves to the name of what is not ready yet, or undefined when everything is. */
  check(): Promise<string | undefined>;
}

export function healthRoutes(readiness: Readiness, metrics: Metrics): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.get('/health', (c) => c.json({ status: 'ok' }));
  app.get('/ready', async (c) => {
    const failing = await readiness.check();
    return failing === undefined ? c.json({ status: 'ready' }) : c.json({ status: 'not ready', reason: failing }, 503);
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.registry.metrics(), 200, { 'content-type': metrics.registry.contentType }),
  );
  return app;
}
