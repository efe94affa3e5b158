/**
 * Studio's live pages: the realtime channels open on this instance. Registered on the API after
 * its sign-in check (api.ts).
 */
import type { Hono } from 'hono';
import type { HttpEnv } from '../platform/http.js';
import { respondJson } from '../platform/json.js';
import type { StudioRuntime } from './runtime.js';

export function liveRoutes(app: Hono<HttpEnv>, runtime: StudioRuntime): void {
  app.get('/realtime/channels', (c) => {
    const view = runtime.realtime();
    return respondJson(c, { scope: view.scope, channels: view.channels });
  });
}
