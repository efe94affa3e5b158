/**
 * supabase-js's functions.invoke against functions written as Supabase documents them: JSON in
 * and out, a streamed response (SSE), a function that queries the database as its caller under
 * RLS with supabase-js, a secret, sub-paths and methods, verify_jwt.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FunctionsHttpError } from '@supabase/supabase-js';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { writeFunctionSecrets } from '../../../src/project/function-secrets.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const repoModules = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../node_modules');

const FUNCTIONS: Record<string, string> = {
  'supabase/functions/_shared/cors.ts': `export const corsHeaders = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Headers': 'authorization, x-client-info, apikey, content-type',
};
`,
  'supabase/functions/hello/index.ts': `import { corsHeaders } from '../_shared/cors.ts';

interface Body { name: string }

Deno.serve(async (req: Request) => {
  const { name } = (await req.json()) as Body;
  const data = { message: \`Hello \${name}!\` };
  return new Response(JSON.stringify(data), { headers: { ...corsHeaders, 'Content-Type': 'application/json' } });
});
`,
  'supabase/functions/echo/index.ts': `export default {
  async fetch(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const body = req.method === 'GET' || req.method === 'HEAD' ? '' : await req.text();
    return Response.json({ method: req.method, path: url.pathname, query: url.search, body, auth: req.headers.has('authorization') });
  },
};
`,
  'supabase/functions/stream/index.ts': `Deno.serve(() => {
  const encoder = new TextEncoder();
  let n = 0;
  const body = new ReadableStream({
    async pull(controller) {
      n += 1;
      if (n > 3) return controller.close();
      await new Promise((r) => setTimeout(r, 100));
      controller.enqueue(encoder.encode(\`data: tick \${n}\\n\\n\`));
    },
  });
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
});
`,
  'supabase/functions/my-notes/index.ts': `import { createClient } from 'npm:@supabase/supabase-js@2';

Deno.serve(async (req) => {
  const supabase = createClient(Deno.env.get('SUPABASE_URL')!, Deno.env.get('SUPABASE_ANON_KEY')!, {
    global: { headers: { Authorization: req.headers.get('Authorization')! } },
    auth: { persistSession: false },
  });
  const { data, error } = await supabase.from('notes').select('body').order('body');
  if (error) return Response.json({ error: error.message }, { status: 500 });
  return Response.json(data);
});
`,
  'supabase/functions/secret/index.ts': `Deno.serve(() => Response.json({
  key: Deno.env.get('STRIPE_KEY') ?? null,
  hasServiceRole: (Deno.env.get('SUPABASE_SERVICE_ROLE_KEY') ?? '').length > 20,
  hasDbUrl: (Deno.env.get('SUPABASE_DB_URL') ?? '').startsWith('postgres'),
  serverEnv: Deno.env.get('JWT_SECRET') ?? Deno.env.get('DATABASE_URL') ?? null,
}));
`,
  'supabase/functions/open/index.ts': `Deno.serve(() => new Response('open to all'));
`,
  'supabase/functions/later/index.ts': `let finished = 0;
let cancelled = 0;
Deno.serve((req) => {
  const what = new URL(req.url).pathname.split('/')[2];
  if (what === 'count') return Response.json({ finished, cancelled, env: Object.keys(Deno.env.toObject()).includes('SUPABASE_URL') });
  if (what === 'wait') {
    EdgeRuntime.waitUntil(new Promise<void>((resolve) => setTimeout(() => { finished += 1; resolve(); }, 200)));
    return new Response('answered first');
  }
  let gone = false;
  const body = new ReadableStream<Uint8Array>({
    // Enqueueing after a cancel throws, as in Deno: a well-written stream stops when cancelled.
    pull: (controller) => new Promise((r) => setTimeout(() => { if (!gone) controller.enqueue(new TextEncoder().encode('data: x\\n\\n')); r(); }, 20)),
    cancel: () => { gone = true; cancelled += 1; },
  });
  return new Response(body, { headers: { 'Content-Type': 'text/event-stream' } });
});
`,
  'supabase/functions/big/index.ts': `let produced = 0;
const CHUNK = new Uint8Array(64 * 1024).fill(120);
Deno.serve((req) => {
  if (new URL(req.url).pathname.endsWith('/produced')) return Response.json({ produced });
  let sent = 0;
  return new Response(new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= 40 * 1024 * 1024) return controller.close();
      sent += CHUNK.byteLength;
      produced += CHUNK.byteLength;
      controller.enqueue(CHUNK);
    },
  }));
});
`,
  'supabase/functions/slow-reader/index.ts': `let taken = 0;
Deno.serve(async (req) => {
  if (new URL(req.url).pathname.endsWith('/taken')) return Response.json({ taken });
  const reader = req.body!.getReader();
  let got = await reader.read();
  taken += got.value?.byteLength ?? 0;
  await new Promise((r) => setTimeout(r, 1500));
  while (!(got = await reader.read()).done) taken += got.value.byteLength;
  return Response.json({ taken });
});
`,
  'supabase/functions/options-form/index.ts': `Deno.serve({ port: 8000, onListen: () => undefined }, (_req, info) => Response.json({ form: 'options, handler', remote: typeof info.remoteAddr.hostname }));
`,
  'supabase/functions/handler-form/index.ts': `Deno.serve({ handler: () => new Response('handler in options') });
`,
  'supabase/functions/switched-off/index.ts': `Deno.serve(() => new Response('should not run'));
`,
  'supabase/config.toml': `[functions.open]
verify_jwt = false

[functions.switched-off]
enabled = false
`,
};

const NOTES = `create table public.notes (id bigint generated always as identity primary key, owner uuid not null default auth.uid(), body text not null);
alter table public.notes enable row level security;
create policy "own notes" on public.notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
grant select, insert on public.notes to authenticated;
`;

let server: TestServer;

beforeAll(async () => {
  // FUNCTIONS_WATCH is `trellis start --dev`: edits are served anew (isolation.test.ts runs without it).
  server = await startTestServer({
    env: { FUNCTIONS_WATCH: 'true' },
    files: FUNCTIONS,
    migrations: { '0001_notes.sql': NOTES },
  });
  await fs.symlink(repoModules, path.join(server.dir, 'node_modules'));
  await writeFunctionSecrets(path.join(server.dir, '.trellis'), { STRIPE_KEY: 'sk_test_123' });
});
afterAll(async () => server?.stop());

describe('functions.invoke', () => {
  test('JSON in, JSON out, with _shared code', async () => {
    const { data, error } = await supabaseClient(server).functions.invoke('hello', { body: { name: 'Functions' } });
    expect(error).toBeNull();
    expect(data).toEqual({ message: 'Hello Functions!' });
  });

  test('export default { fetch } sees its sub-path, method, query and body', async () => {
    const client = supabaseClient(server);
    const { data, error } = await client.functions.invoke('echo/users/7?x=1', { method: 'PUT', body: 'plain' });
    expect(error).toBeNull();
    expect(data).toEqual({ method: 'PUT', path: '/echo/users/7', query: '?x=1', body: 'plain', auth: true });
    const got = await client.functions.invoke('echo', { method: 'DELETE' });
    expect((got.data as { method: string }).method).toBe('DELETE');
  });

  test('a streamed response arrives in chunks (Server-Sent Events)', async () => {
    const res = await fetch(`${server.url}/functions/v1/stream`, {
      headers: { authorization: `Bearer ${server.anonKey}` },
    });
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const arrivals: number[] = [];
    let text = '';
    const started = Date.now();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      arrivals.push(Date.now() - started);
      text += new TextDecoder().decode(value);
    }
    expect(text).toBe('data: tick 1\n\ndata: tick 2\n\ndata: tick 3\n\n');
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    // The first event came before the last was written: the body was not buffered.
    expect((arrivals.at(-1) ?? 0) - (arrivals[0] ?? 0)).toBeGreaterThan(100);
  });

  test('a function queries the database as its caller, under RLS', async () => {
    const alice = supabaseClient(server);
    const bob = supabaseClient(server);
    const a = await alice.auth.signUp({ email: 'alice-fn@example.com', password: 'password-123' });
    const b = await bob.auth.signUp({ email: 'bob-fn@example.com', password: 'password-123' });
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
    expect((await alice.from('notes').insert([{ body: 'a1' }, { body: 'a2' }])).error).toBeNull();
    expect((await bob.from('notes').insert({ body: 'b1' })).error).toBeNull();
    const mine = await alice.functions.invoke('my-notes');
    if (mine.error) console.log('BODY', await ((mine.error as FunctionsHttpError).context as Response).text());
    expect(mine.error).toBeNull();
    expect(mine.data).toEqual([{ body: 'a1' }, { body: 'a2' }]);
    const his = await bob.functions.invoke('my-notes');
    expect(his.data).toEqual([{ body: 'b1' }]);
    // The anon key's caller sees no one's notes.
    expect((await supabaseClient(server).functions.invoke('my-notes')).data).toEqual([]);
  });

  test('a secret reaches the function; the server environment does not', async () => {
    const { data } = await supabaseClient(server).functions.invoke('secret');
    expect(data).toEqual({ key: 'sk_test_123', hasServiceRole: true, hasDbUrl: true, serverEnv: null });
  });

  test('a secret set while the server runs reaches the next call', async () => {
    await writeFunctionSecrets(path.join(server.dir, '.trellis'), { STRIPE_KEY: 'sk_test_456' });
    await new Promise((r) => setTimeout(r, 300));
    const { data } = await supabaseClient(server).functions.invoke('secret');
    expect((data as { key: string }).key).toBe('sk_test_456');
  });

  test('an edited function is served anew on its next call', async () => {
    const file = path.join(server.dir, 'supabase/functions/open/index.ts');
    const before = await fetch(`${server.url}/functions/v1/open`);
    expect(await before.text()).toBe('open to all');
    await fs.writeFile(file, `Deno.serve(() => new Response('edited'));\n`);
    await new Promise((r) => setTimeout(r, 300));
    expect(await (await fetch(`${server.url}/functions/v1/open`)).text()).toBe('edited');
  });
});

test('EdgeRuntime.waitUntil work goes on after the answer', async () => {
  const res = await fetch(`${server.url}/functions/v1/later/wait`, {
    headers: { authorization: `Bearer ${server.anonKey}` },
  });
  expect(await res.text()).toBe('answered first');
  const count = async () =>
    (await (
      await fetch(`${server.url}/functions/v1/later/count`, { headers: { authorization: `Bearer ${server.anonKey}` } })
    ).json()) as {
      finished: number;
      cancelled: number;
      env: boolean;
    };
  expect((await count()).finished).toBe(0);
  await new Promise((r) => setTimeout(r, 400));
  expect(await count()).toMatchObject({ finished: 1, env: true });
});

test('a client that leaves an endless stream cancels the function body', async () => {
  const headers = { authorization: `Bearer ${server.anonKey}` };
  const abort = new AbortController();
  const res = await fetch(`${server.url}/functions/v1/later/stream`, { headers, signal: abort.signal });
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  await reader.read();
  abort.abort();
  let cancelled = 0;
  for (let i = 0; i < 50 && cancelled === 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    cancelled = (
      (await (await fetch(`${server.url}/functions/v1/later/count`, { headers })).json()) as { cancelled: number }
    ).cancelled;
  }
  expect(cancelled).toBe(1);
});

test('a body many times the worker window arrives whole to a client that pauses', async () => {
  const headers = { authorization: `Bearer ${server.anonKey}` };
  // node:http, paused: the client takes nothing more until resumed (fetch reads ahead on its own).
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    http.get(`${server.url}/functions/v1/big`, { headers }, resolve).on('error', reject),
  );
  let total = 0;
  await new Promise<void>((resolve) =>
    res.once('data', (chunk: Buffer) => {
      total += chunk.byteLength;
      res.pause();
      resolve();
    }),
  );
  const produced = async () => {
    await new Promise((r) => setTimeout(r, 400));
    const got = (await (await fetch(`${server.url}/functions/v1/big/produced`, { headers })).json()) as {
      produced: number;
    };
    return got.produced;
  };
  // The function is still writing it, but no faster than the client reads: what it made is the
  // worker's window, the server's queue and the sockets' buffers (about 5 MB here), and it stays so.
  const first = await produced();
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThan(16 * 1024 * 1024);
  expect(await produced()).toBe(first);
  res.on('data', (chunk: Buffer) => (total += chunk.byteLength));
  res.resume();
  await new Promise((r) => res.on('end', r));
  expect(total).toBe(40 * 1024 * 1024);
});

test('a request body goes no faster than the function reads it', async () => {
  const SIZE = 20 * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024, 120);
  const req = http.request(`${server.url}/functions/v1/slow-reader`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.anonKey}`, 'content-length': String(SIZE) },
  });
  const answer = new Promise<string>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve(text));
    });
    req.on('error', reject);
  });
  let written = 0;
  const write = () => {
    while (written < SIZE) {
      written += chunk.byteLength;
      if (!req.write(chunk)) return void req.once('drain', write);
    }
    req.end();
  };
  write();
  // The function took one chunk and sleeps: the client can send the windows and buffers between
  // them, not the whole body.
  await new Promise((r) => setTimeout(r, 1000));
  expect(written).toBeLessThan(SIZE / 2);
  expect(JSON.parse(await answer)).toEqual({ taken: SIZE });
});

test.each([
  ['options-form', { form: 'options, handler', remote: 'string' }],
  ['handler-form', 'handler in options'],
])('Deno.serve in its %s', async (name, expected) => {
  const { data, error } = await supabaseClient(server).functions.invoke(name);
  expect(error).toBeNull();
  expect(data).toEqual(expected);
});

test('[functions.<name>] enabled = false answers 404', async () => {
  const res = await fetch(`${server.url}/functions/v1/switched-off`, {
    headers: { authorization: `Bearer ${server.anonKey}` },
  });
  expect(res.status).toBe(404);
  expect(await res.json()).toMatchObject({ code: 'NOT_FOUND' });
});

describe('verify_jwt', () => {
  test('a call without Authorization is refused as Supabase refuses it', async () => {
    const res = await fetch(`${server.url}/functions/v1/hello`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 'UNAUTHORIZED_NO_AUTH_HEADER', message: 'Missing authorization header' });
  });

  test.each([
    ['a forged token', 'Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoiYW5vbiJ9.c2lnbmF0dXJl'],
    ['not a JWT', 'Bearer not-a-jwt'],
    ['no Bearer', 'Basic dXNlcjpwYXNz'],
  ])('%s is refused with 401', async (_, authorization) => {
    const res = await fetch(`${server.url}/functions/v1/hello`, {
      method: 'POST',
      body: '{}',
      headers: { authorization },
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { code: string; message: string };
    expect(body.code).toMatch(/^UNAUTHORIZED_/);
    expect(body.message).toMatch(/JWT/);
  });

  test('an expired token is refused with 401', async () => {
    const expired = await new SignJWT({ role: 'authenticated', sub: '00000000-0000-0000-0000-000000000001' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(1_700_000_000)
      .setExpirationTime(1_700_000_060)
      .sign(new TextEncoder().encode(server.jwtSecret));
    const res = await fetch(`${server.url}/functions/v1/hello`, {
      method: 'POST',
      body: '{}',
      headers: { authorization: `Bearer ${expired}` },
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 'UNAUTHORIZED_INVALID_JWT', message: 'Invalid JWT: it has expired' });
  });

  test('[functions.<name>] verify_jwt = false lets a call without a token in', async () => {
    const res = await fetch(`${server.url}/functions/v1/open`, { method: 'POST' });
    expect(res.status).toBe(200);
  });

  test('supabase-js surfaces a function error as FunctionsHttpError with its status', async () => {
    const { error } = await supabaseClient(server).functions.invoke('no-such-function');
    expect(error).toBeInstanceOf(FunctionsHttpError);
    const res = (error as FunctionsHttpError).context as Response;
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ code: 'NOT_FOUND', message: 'Requested function was not found' });
  });

  test('a CORS preflight is answered as the gateway does', async () => {
    const res = await fetch(`${server.url}/functions/v1/hello`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://app.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, x-client-info, apikey, content-type',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-client-info');
  });

  test('a call from a browser origin gets the gateway CORS headers with the function answer', async () => {
    const res = await fetch(`${server.url}/functions/v1/hello`, {
      method: 'POST',
      body: JSON.stringify({ name: 'cors' }),
      headers: { origin: 'http://app.example', authorization: `Bearer ${server.anonKey}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-headers')).toContain('x-client-info');
    // A function that sets no CORS headers of its own gets the gateway's, and the request id.
    const plain = await fetch(`${server.url}/functions/v1/echo`, {
      headers: { origin: 'http://app.example', authorization: `Bearer ${server.anonKey}`, 'x-request-id': 'req-42' },
    });
    expect(plain.headers.get('access-control-allow-origin')).toBe('*');
    expect(plain.headers.get('access-control-expose-headers')).toContain('x-request-id');
    expect(plain.headers.get('x-request-id')).toBe('req-42');
  });
});

test('/metrics counts invocations by function and status, with their CPU and cold starts', async () => {
  await supabaseClient(server).functions.invoke('hello', { body: { name: 'metrics' } });
  await new Promise((r) => setTimeout(r, 50));
  const res = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${server.serviceRoleKey}` } });
  const text = await res.text();
  expect(text).toMatch(/trellis_function_invocations_total\{function="hello",status="200"\} [1-9]/);
  expect(text).toMatch(/trellis_function_cpu_seconds_count\{function="hello"\} [1-9]/);
  expect(text).toMatch(/trellis_function_cold_start_seconds_count\{function="hello"\} [1-9]/);
});
