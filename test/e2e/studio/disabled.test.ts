/** STUDIO_ENABLED=false: no dashboard, no admin API, no password made. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { STUDIO_ENABLED: 'false' } });
});
afterAll(async () => {
  await server?.stop();
});

test('/studio and /studio/api answer 404 and no studio.json is made', async () => {
  expect((await fetch(`${server.url}/studio`)).status).toBe(404);
  const api = await fetch(`${server.url}/studio/api/tables`, {
    headers: { authorization: `Bearer ${server.serviceRoleKey}` },
  });
  expect(api.status).toBe(404);
  expect(fs.existsSync(path.join(server.dir, '.trellis', 'studio.json'))).toBe(false);
});
