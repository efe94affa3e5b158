/** RATE_LIMIT_FUNCTIONS: a caller's calls per window, refused with 429 and the RateLimit headers. */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: { RATE_LIMIT_FUNCTIONS: '2/1m' },
    files: { 'supabase/functions/ok/index.ts': `Deno.serve(() => new Response('ok'));\n` },
  });
});
afterAll(async () => server?.stop());

test('the third call in the window answers 429; service_role is never limited', async () => {
  const call = (key: string) => fetch(`${server.url}/functions/v1/ok`, { headers: { authorization: `Bearer ${key}` } });
  expect((await call(server.anonKey)).status).toBe(200);
  const second = await call(server.anonKey);
  expect(second.status).toBe(200);
  expect(second.headers.get('ratelimit-remaining')).toBe('0');
  const third = await call(server.anonKey);
  expect(third.status).toBe(429);
  expect(third.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(await third.json()).toMatchObject({ code: 'over_request_rate_limit' });
  expect((await call(server.serviceRoleKey)).status).toBe(200);
});
