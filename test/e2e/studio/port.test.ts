/** STUDIO_PORT: Studio on a port of its own, the API's port without it; a port in use fails the start. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { loadConfig } from '../../../src/config.js';
import { createLogger } from '../../../src/platform/logger.js';
import { setStudioPassword } from '../../../src/project/studio-password.js';
import { startTrellis } from '../../../src/server.js';
import { freePort, tempProject } from '../../helpers/cli.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let studioPort: number;
beforeAll(async () => {
  studioPort = await freePort();
  server = await startTestServer({ env: { STUDIO_PORT: String(studioPort) } });
  await setStudioPassword(path.join(server.dir, '.trellis'), 'port-test-password');
});
afterAll(async () => {
  await server?.stop();
});

test('Studio answers on its own port, and the API port has no /studio', async () => {
  expect((await fetch(`${server.url}/studio`)).status).toBe(404);
  expect((await fetch(`${server.url}/studio/api/tables`)).status).toBe(404);
  const studio = `http://127.0.0.1:${studioPort}`;
  const page = await fetch(`${studio}/studio/`);
  expect(page.status).toBe(200);
  expect(await page.text()).toMatch(/Trellis Studio/);
  expect((await fetch(`${studio}/`, { redirect: 'manual' })).headers.get('location')).toBe('/studio/');
  // Nothing of the API on Studio's port.
  expect((await fetch(`${studio}/rest/v1/`, { headers: { apikey: server.anonKey } })).status).toBe(404);
  const signIn = await fetch(`${studio}/studio/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: 'port-test-password' }),
  });
  expect(signIn.status).toBe(200);
  const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
  expect((await fetch(`${studio}/studio/api/tables`, { headers: { cookie } })).status).toBe(200);
  // Storage goes through the API's own port (the bridge), which still works from here.
  const buckets = await fetch(`${studio}/studio/api/storage/buckets`, { headers: { cookie } });
  expect(buckets.status).toBe(200);
  expect(await buckets.json()).toEqual([]);
});

test('a STUDIO_PORT in use fails the start, naming the setting', async () => {
  const dir = await tempProject({});
  try {
    const config = loadConfig(
      { dir, port: String(await freePort()) },
      // Never reached: the port is refused before the database is opened.
      { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', STUDIO_PORT: String(studioPort), LOG_LEVEL: 'silent' },
    );
    await expect(startTrellis(config, createLogger({ level: 'silent', pretty: false }))).rejects.toMatchObject({
      setting: 'STUDIO_PORT',
      message: expect.stringMatching(new RegExp(`port ${studioPort} is already in use`)) as unknown,
    });
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});
