/**
 * A function that misbehaves ends its own invocation with Supabase's status and a message; the
 * server and the other functions keep answering. Limits are set low so the test runs quickly.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const fn = (body: string) => body;
const FUNCTIONS: Record<string, string> = {
  'supabase/functions/ok/index.ts': fn(`Deno.serve(() => new Response('ok'));`),
  'supabase/functions/import-throws/index.ts': fn(
    `throw new Error('boom at import');\nDeno.serve(() => new Response('never'));`,
  ),
  'supabase/functions/serves-nothing/index.ts': fn(`export const x = 1;`),
  'supabase/functions/never-answers/index.ts': fn(`Deno.serve(() => new Promise<Response>(() => undefined));`),
  'supabase/functions/spins/index.ts': fn(`Deno.serve((req) => {
  if (new URL(req.url).searchParams.has('spin')) for (;;) {}
  return new Response('spun down');
});`),
  'supabase/functions/hog/index.ts': fn(`const kept: number[][] = [];
Deno.serve(() => {
  for (;;) kept.push(new Array(1_000_000).fill(Math.random()));
});`),
  'supabase/functions/not-response/index.ts': fn(`Deno.serve((() => 42) as unknown as () => Response);`),
  'supabase/functions/throws/index.ts': fn(`Deno.serve(() => { throw new Error('handler failed'); });`),
  'supabase/functions/rejects/index.ts': fn(`Deno.serve(() => {
  void Promise.reject(new Error('nobody caught me'));
  return new Promise<Response>((resolve) => setTimeout(() => resolve(new Response('late')), 1000));
});`),
  'supabase/functions/exits/index.ts': fn(`Deno.serve(() => { process.exit(3); });`),
  'supabase/functions/import-spins/index.ts': fn(`for (;;) {}\nDeno.serve(() => new Response('never'));`),
  'supabase/functions/counter/index.ts': fn(`let n = 0;\nDeno.serve(() => new Response(String(++n)));`),
  'supabase/functions/echo/index.ts': fn(
    `Deno.serve(async (req) => new Response(String((await req.arrayBuffer()).byteLength)));`,
  ),
  'supabase/functions/network/index.ts': fn(
    `import { serve } from 'https://deno.land/std@0.168.0/http/server.ts';\nserve(() => new Response('x'));`,
  ),
  'supabase/functions/jsr/index.ts': fn(`import { Hono } from 'jsr:@hono/hono';\nDeno.serve(new Hono().fetch);`),
  'supabase/functions/syntax/index.ts': fn(`Deno.serve(() => new Response('x'`),
  'supabase/functions/missing-package/index.ts': fn(
    `import x from 'npm:left-pad-not-installed-anywhere@1';\nDeno.serve(() => new Response(String(x)));`,
  ),
};

let server: TestServer;
let auth: Record<string, string>;

beforeAll(async () => {
  server = await startTestServer({
    files: FUNCTIONS,
    env: {
      FUNCTIONS_CPU_LIMIT_MS: '1500', // under the wall limit; room for the memory test's last-ditch GCs on a loaded machine
      FUNCTIONS_WALL_LIMIT_S: '3',
      FUNCTIONS_MEMORY_LIMIT_MB: '48',
      FUNCTIONS_MAX_BODY_BYTES: '1024',
      FUNCTIONS_MAX_CONCURRENCY: '2',
      FUNCTIONS_IDLE_TIMEOUT_S: '2',
    },
  });
  auth = { authorization: `Bearer ${server.anonKey}` };
});
afterAll(async () => server?.stop());

async function call(
  path: string,
  init: RequestInit = {},
): Promise<{
  status: number;
  errorCode: string | null;
  body: { code?: string; message?: string } | string | number;
}> {
  const res = await fetch(`${server.url}/functions/v1/${path}`, {
    ...init,
    headers: { ...auth, ...(init.headers ?? {}) },
  });
  const text = await res.text();
  try {
    return {
      status: res.status,
      errorCode: res.headers.get('sb-error-code'),
      body: JSON.parse(text) as { code: string; message: string },
    };
  } catch {
    return { status: res.status, errorCode: res.headers.get('sb-error-code'), body: text };
  }
}

async function stillHealthy(): Promise<void> {
  expect((await call('ok')).body).toBe('ok');
  expect((await fetch(`${server.url}/health`)).status).toBe(200);
}

test.each([
  ['import-throws', 503, 'BOOT_ERROR', /boom at import/],
  ['serves-nothing', 503, 'BOOT_ERROR', /Deno\.serve\(handler\) or export default \{ fetch/],
  ['network', 503, 'BOOT_ERROR', /network imports are not available/],
  ['jsr', 503, 'BOOT_ERROR', /"jsr:@hono\/hono": network imports are not available/],
  ['syntax', 503, 'BOOT_ERROR', /index\.ts:\d+: Expected/],
  ['missing-package', 503, 'BOOT_ERROR', /left-pad-not-installed-anywhere/],
  ['not-response', 500, 'EDGE_FUNCTION_ERROR', /returned number, not a Response/],
  ['throws', 500, 'EDGE_FUNCTION_ERROR', /threw an error/],
  ['no-such-function', 404, 'NOT_FOUND', /^Requested function was not found$/],
  ['exits', 546, 'WORKER_ERROR', /exited with code 3/],
  ['import-spins', 546, 'WORKER_LIMIT', /CPU time limit of 1500 ms/],
])('%s answers %i %s', async (name, status, code, message) => {
  const got = await call(name, { method: 'POST', body: '{}' });
  expect(got.status).toBe(status);
  expect(got.body).toMatchObject({ code });
  expect(got.errorCode).toBe(code);
  expect((got.body as { message: string }).message).toMatch(message);
  await stillHealthy();
});

test('without --dev an edited function keeps serving what it first loaded', async () => {
  expect(await call('ok')).toMatchObject({ status: 200, body: 'ok' });
  await fs.writeFile(
    path.join(server.dir, 'supabase/functions/ok/index.ts'),
    fn(`Deno.serve(() => new Response('edited'));`),
  );
  await new Promise((r) => setTimeout(r, 400));
  expect(await call('ok')).toMatchObject({ status: 200, body: 'ok' });
});

test('a function that never answers ends at the wall-clock limit with 504', async () => {
  const started = Date.now();
  const got = await call('never-answers');
  expect(got.status).toBe(504);
  expect(got.body).toMatchObject({ code: 'IDLE_TIMEOUT' });
  expect(Date.now() - started).toBeGreaterThanOrEqual(2900);
  await stillHealthy();
});

test('an infinite loop ends at the CPU limit with 546; the next call gets a fresh worker', async () => {
  const pending = call('spins?spin=1');
  // While one function spins, the others answer.
  await stillHealthy();
  const got = await pending;
  expect(got.status).toBe(546);
  expect(got.body).toMatchObject({ code: 'WORKER_LIMIT' });
  expect((got.body as { message: string }).message).toMatch(/CPU time limit of 1500 ms/);
  expect((await call('spins')).body).toBe('spun down');
});

test('allocating without bound ends at the memory limit with 546', async () => {
  const got = await call('hog');
  expect(got.status).toBe(546);
  expect(got.body).toMatchObject({ code: 'WORKER_LIMIT' });
  expect((got.body as { message: string }).message).toMatch(/memory limit of 48 MB/);
  await stillHealthy();
});

test('an unhandled rejection ends the invocation with 546', async () => {
  const got = await call('rejects');
  expect(got.status).toBe(546);
  expect(got.body).toMatchObject({ code: 'WORKER_ERROR' });
  expect((got.body as { message: string }).message).toMatch(/nobody caught me/);
  await stillHealthy();
});

test('a body over the limit is refused with 413, with or without Content-Length', async () => {
  expect((await call('echo', { method: 'POST', body: 'x'.repeat(1000) })).body).toBe(1000);
  const declared = await call('echo', { method: 'POST', body: 'x'.repeat(2000) });
  expect(declared.status).toBe(413);
  expect(declared.body).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
  const chunks = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let i = 0; i < 4; i++) controller.enqueue(new Uint8Array(600));
      controller.close();
    },
  });
  const streamed = await call('echo', { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);
  expect(streamed.status).toBe(413);
  expect((streamed.body as { message: string }).message).toMatch(/limit of 1024 bytes/);
  await stillHealthy();
});

/** A request with the path exactly as written (fetch would normalise `..`). */
function rawGet(path: string): Promise<{ status: number; body: string }> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, path, headers: auth }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test.each([
  ['/functions/v1/..%2F..%2Fetc%2Fpasswd', /cannot hold a path/],
  ['/functions/v1/ok%00', /NUL/],
  ['/functions/v1/_shared', /must start with a letter/],
  ['/functions/v1/', /No function name/],
  ['/functions/v1/%E0%A4%A', /percent-encoding/],
])('%s is refused with 400', async (path, message) => {
  const got = await rawGet(path);
  expect(got.status).toBe(400);
  const body = JSON.parse(got.body) as { code: string; message: string };
  expect(body.code).toBe('INVALID_FUNCTION_NAME');
  expect(body.message).toMatch(message);
  await stillHealthy();
});

test.each(['/functions/v1/../../etc/passwd', '/functions/v1/%2e%2e/%2e%2e/etc/passwd', '/functions/v1/ok/../../x'])(
  'a dot-dot path (%s) never leaves the functions folder',
  async (path) => {
    // The URL parser resolves the dots first: what is left names no function, or not this route.
    const got = await rawGet(path);
    expect(got.status).toBeGreaterThanOrEqual(400);
    expect(got.status).toBeLessThan(500);
    await stillHealthy();
  },
);

test('calls past the concurrency bound wait, and past the queue answer 503', async () => {
  // Two run, two wait; the fifth is refused at once.
  const slow = Array.from({ length: 4 }, () => call('never-answers'));
  await new Promise((r) => setTimeout(r, 200));
  const refused = await call('never-answers');
  expect(refused.status).toBe(503);
  expect(refused.body).toMatchObject({ code: 'WORKER_BUSY' });
  const settled = await Promise.all(slow);
  expect(settled.map((s) => s.status)).toEqual([504, 504, 504, 504]);
  await stillHealthy();
}, 20_000);

test('a worker idle past FUNCTIONS_IDLE_TIMEOUT_S is stopped; the next call starts a fresh one', async () => {
  expect((await call('counter')).body).toBe(1);
  expect((await call('counter')).body).toBe(2);
  await new Promise((r) => setTimeout(r, 1000));
  // A call within the timeout keeps it.
  expect((await call('counter')).body).toBe(3);
  await new Promise((r) => setTimeout(r, 2600));
  expect((await call('counter')).body).toBe(1);
});
