/** /push/v1: what a browser needs before it subscribes (the public key is public: no API key asked). */
import { Hono } from 'hono';
import type { HttpEnv } from '../../platform/http.js';

export function pushRoutes(publicKey: string): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  // PushManager.subscribe's applicationServerKey, base64url (docs/push.md shows the conversion).
  app.get('/vapid-public-key', (c) => c.json({ publicKey }, 200, { 'cache-control': 'public, max-age=300' }));
  return app;
}
