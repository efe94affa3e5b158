/**
 * Studio's door: the dashboard (the Vite build of studio/web, in dist/studio-web) at /studio and
 * its admin API at /studio/api. Nothing of it is loaded at start: the files are read on request and
 * the API's modules imported on its first call, so the dashboard costs the API's start nothing
 * (docs/benchmarks.md measures it).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { renderError, type HttpEnv } from '../platform/http.js';
import type { Services } from '../services.js';
import type { StudioRuntime } from './runtime.js';

export type { StudioRuntime } from './runtime.js';

// Two levels under the repository both from src/studio (tests) and dist/studio (the build).
const WEB_DIR = fileURLToPath(new URL('../../dist/studio-web/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
};

/** The dashboard may not be framed, and runs only its own scripts. */
const PAGE_HEADERS = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'content-security-policy':
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
};

/**
 * Routes under /studio (mount it at '/'). `localUrl`: this process's own listener
 * (http://127.0.0.1:PORT), which the auth and storage pages call.
 */
export function studioModule(services: Services, localUrl: string, runtime: StudioRuntime): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  let api: Promise<Hono<HttpEnv>> | undefined;
  const loadApi = async () => {
    const [{ studioApi }, { createBridge }] = await Promise.all([import('./api.js'), import('./bridge.js')]);
    const routes = new Hono<HttpEnv>().basePath('/studio/api');
    // The outer request's logger and id, for the error renderer's log lines.
    routes.use('*', async (c, next) => {
      c.set('log', services.log);
      c.set('requestId', (c.env as { requestId?: string } | undefined)?.requestId ?? '');
      await next();
    });
    routes.route('/', studioApi(services, createBridge(localUrl, services.keys.serviceRoleKey), runtime));
    routes.all('*', (c) => c.json({ code: 'not_found', message: 'no such Studio endpoint' }, 404));
    routes.onError(renderError);
    return routes;
  };
  // One route for the whole API (its metrics label is /studio/api/:path{.+}; a pattern ending in
  // '*' would be counted as unmatched): the sub-app answers with its own errors.
  app.all('/studio/api/:path{.+}', async (c) => {
    api ??= loadApi();
    const res = await (await api).fetch(c.req.raw, { ...(c.env as object), requestId: c.get('requestId') });
    // A Response made elsewhere keeps none of the headers set on this context (the request id).
    res.headers.set('x-request-id', c.get('requestId'));
    return res;
  });
  app.all('/studio/api', (c) => c.json({ code: 'not_found', message: 'no such Studio endpoint' }, 404));
  const page = async (c: Context<HttpEnv>) => {
    const rest = c.req.path.replace(/^\/studio\/?/, '');
    // Asset names are Vite's (assets/<name>-<hash>.js); anything else is a page of the app.
    const file = rest.startsWith('assets/') && !rest.includes('..') ? rest : 'index.html';
    const full = path.join(WEB_DIR, file);
    if (!full.startsWith(WEB_DIR)) return c.json({ code: 'not_found', message: 'not found' }, 404);
    const bytes = await fs.readFile(full).catch(() => undefined);
    if (!bytes) {
      if (file !== 'index.html') return c.json({ code: 'not_found', message: 'not found' }, 404);
      return c.text('Studio is not built: run `npm run build` (it writes dist/studio-web).', 503);
    }
    const type = TYPES[path.extname(file)] ?? 'application/octet-stream';
    const cache = file === 'index.html' ? 'no-cache' : 'public, max-age=31536000, immutable';
    return c.body(new Uint8Array(bytes), 200, { 'content-type': type, 'cache-control': cache, ...PAGE_HEADERS });
  };
  // Literal paths and one-segment params: a `/:path{.*}` pattern would turn the whole app's router
  // from Hono's RegExpRouter to its slower TrieRouter. The app's own routes are #hashes, so a
  // browser asks only for these; anything else under /studio is the page too (labelled unmatched).
  app.get('/studio', page);
  app.get('/studio/', page);
  app.get('/studio/assets/:file', page);
  app.get('/studio/*', page);
  return app;
}
