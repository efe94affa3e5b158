/**
 * Studio's live pages: the realtime channels open on this instance, and its recent warnings and
 * errors. Registered on the API after its sign-in check (api.ts).
 */
import type { Hono } from 'hono';
import { readLastReport } from '../capacity/index.js';
import { ApiError } from '../errors.js';
import type { HttpEnv } from '../platform/http.js';
import { respondJson } from '../platform/json.js';
import { recentLogsOf, type RecentLevel } from '../platform/logger.js';
import type { Services } from '../services.js';
import type { StudioRuntime } from './runtime.js';

const LEVELS = new Set<string>(['warn', 'error', 'fatal']);

function sinceOf(raw: string | undefined): Date | undefined {
  if (raw === undefined || raw === '') return undefined;
  const at = /^\d{1,15}$/.test(raw) ? new Date(Number(raw)) : new Date(raw);
  if (Number.isNaN(at.getTime()))
    throw new ApiError(400, 'validation_failed', 'since must be an ISO-8601 time or milliseconds since 1970');
  return at;
}

export function liveRoutes(app: Hono<HttpEnv>, services: Services, runtime: StudioRuntime): void {
  app.get('/realtime/channels', (c) => {
    const view = runtime.realtime();
    return respondJson(c, { scope: view.scope, channels: view.channels });
  });

  // The last `trellis bench` report the project kept (capacity/last-report.ts).
  app.get('/bench/last', async (c) => {
    const saved = await readLastReport(services.config.dataDir);
    if (saved === undefined)
      return c.json(
        { code: 'no_bench', message: 'no `trellis bench` report is kept in this project yet', report: null },
        404,
      );
    if ('problem' in saved) return c.json({ code: 'bench_unreadable', message: saved.problem, report: null }, 404);
    return respondJson(c, saved);
  });

  // This process's last warnings and errors (platform/recent-logs.ts), newest first.
  const ring = recentLogsOf(services.log);
  const { jwtSecret, serviceRoleKey } = services.keys;
  app.get('/logs', (c) => {
    const level = c.req.query('level') ?? 'warn';
    if (!LEVELS.has(level)) throw new ApiError(400, 'validation_failed', 'level must be warn, error or fatal');
    const text = c.req.query('q') ?? '';
    if (text.length > 200 || text.includes('\u0000'))
      throw new ApiError(400, 'validation_failed', 'q must be at most 200 characters, without NUL');
    const rawLimit = c.req.query('limit') ?? '200';
    if (!/^\d{1,4}$/.test(rawLimit) || Number(rawLimit) < 1 || Number(rawLimit) > 500)
      throw new ApiError(400, 'validation_failed', 'limit must be a whole number from 1 to 500');
    const since = sinceOf(c.req.query('since'));
    const records = ring?.list({
      level: level as RecentLevel,
      ...(since && { since }),
      ...(text !== '' && { text }),
      limit: Number(rawLimit),
    });
    // The ring scrubs what looks like a secret; the project's own keys are cut out by value too.
    let body = JSON.stringify({ capacity: ring?.capacity ?? 0, scope: 'instance', logs: records ?? [] });
    for (const secret of [jwtSecret, serviceRoleKey]) if (secret) body = body.replaceAll(secret, '[redacted]');
    return c.body(body, 200, { 'content-type': 'application/json; charset=utf-8' });
  });
}
