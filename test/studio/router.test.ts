/**
 * Studio's routes keep Hono's RegExpRouter: a `/:path{.*}` pattern would turn the router of the
 * whole app it is mounted in into the slower TrieRouter.
 */
import { Hono } from 'hono';
import { expect, test } from 'vitest';
import { studioModule } from '../../src/studio/index.js';
import type { Services } from '../../src/services.js';

test('an app with Studio mounted still routes with the RegExpRouter, and serves its paths', async () => {
  const app = new Hono();
  app.get('/rest/v1/:table', (c) => c.text('rest'));
  app.route(
    '/',
    studioModule({} as Services, 'http://127.0.0.1:1', {
      realtime: () => ({ scope: 'all', channels: [] }),
      databaseUrl: '',
    }),
  );
  expect((await app.request('/rest/v1/notes')).status).toBe(200);
  expect((app.router as unknown as { activeRouter?: { name: string } }).activeRouter?.name).toBe('RegExpRouter');
  for (const path of ['/studio', '/studio/', '/studio/#/sql'])
    expect([200, 503]).toContain((await app.request(path)).status);
  expect((await app.request('/studio/assets/missing.js')).status).toBe(404);
  expect((await app.request('/studio/api')).status).toBe(404);
});
