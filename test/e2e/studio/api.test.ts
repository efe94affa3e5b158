/**
 * /studio/api through real HTTP against a started server: who is let in (the dashboard cookie or
 * the service_role key; anon and user keys 403), bad input as 4xx, the table editor, the SQL editor
 * with RLS applied for a chosen user, auth users, storage, metrics and migrations.
 */
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { setStudioPassword } from '../../../src/project/studio-password.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const PASSWORD = 'studio-test-password';
let server: TestServer;
let cookie: string;

const MIGRATION = `
create table public.notes (id bigint generated always as identity primary key, owner uuid, body text not null);
alter table public.notes enable row level security;
create policy "owners read their notes" on public.notes for select to authenticated using (owner = auth.uid());
create function public.owns(who uuid) returns boolean language sql stable security definer set search_path = '' as $$ select who = auth.uid() $$;
create policy "owners edit through a function" on public.notes for update to authenticated using (public.owns(owner));
create policy "owners delete, uid once" on public.notes for delete to authenticated using (owner = (select auth.uid()));
create table public.open_table (id int primary key, label text);
grant select, insert, update, delete on public.notes to authenticated;
`;

async function call(
  method: string,
  url: string,
  options: {
    body?: unknown;
    raw?: string | Uint8Array;
    headers?: Record<string, string>;
    /** 'cookie' (the signed-in dashboard, the default), 'none', or a bearer token. */
    auth?: string;
  } = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  const auth = options.auth ?? 'cookie';
  if (auth === 'cookie') headers.cookie = cookie;
  else if (auth !== 'none') headers.authorization = `Bearer ${auth}`;
  let body: BodyInit | undefined;
  if (options.raw !== undefined) body = options.raw as BodyInit;
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${server.url}/studio/api${url}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

const userToken = (sub: string) =>
  new SignJWT({ role: 'authenticated', sub, aud: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(server.jwtSecret));

beforeAll(async () => {
  server = await startTestServer({
    migrations: { '20240101000000_notes.sql': MIGRATION },
    env: { STUDIO_SQL_TIMEOUT_MS: '300' },
  });
  await setStudioPassword(path.join(server.dir, '.trellis'), PASSWORD);
  const res = await fetch(`${server.url}/studio/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  expect(setCookie).toMatch(/Path=\/studio/);
  cookie = setCookie.split(';')[0] as string;
});

afterAll(async () => {
  await server?.stop();
});

describe('who may call /studio/api', () => {
  test('no credentials: 401', async () => {
    const res = await call('GET', '/tables', { auth: 'none' });
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('not_signed_in');
  });
  test('the anon key is refused with 403 and says why', async () => {
    const res = await call('GET', '/tables', { auth: server.anonKey });
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/service_role/);
  });
  test('the anon key as apikey header is refused with 403', async () => {
    const res = await call('GET', '/tables', { auth: 'none', headers: { apikey: server.anonKey } });
    expect(res.status).toBe(403);
  });
  test("a user's JWT is refused with 403", async () => {
    const res = await call('GET', '/sql', { auth: await userToken(crypto.randomUUID()) });
    expect(res.status).toBe(403);
  });
  test('a forged token is refused with 401', async () => {
    const forged = await new SignJWT({ role: 'service_role' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('another-secret-another-secret-another!'));
    expect((await call('GET', '/tables', { auth: forged })).status).toBe(401);
  });
  test('a forged cookie is refused with 401', async () => {
    const [expires] = cookie.split('=')[1]!.split('.');
    const res = await call('GET', '/tables', { auth: 'none', headers: { cookie: `trellis_studio=${expires}.AAAA` } });
    expect(res.status).toBe(401);
  });
  test('the service_role key is let in', async () => {
    const res = await call('GET', '/tables', { auth: server.serviceRoleKey });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
  test('a wrong password is refused with 401 and sets no cookie', async () => {
    const res = await call('POST', '/session', { auth: 'none', body: { password: 'not-it' } });
    expect(res.status).toBe(401);
    expect(res.headers.get('set-cookie')).toBeNull();
  });
  test('signing out clears the cookie', async () => {
    const res = await call('DELETE', '/session');
    expect(res.headers.get('set-cookie')).toMatch(/Max-Age=0/);
  });
});

describe('bad input answers 4xx', () => {
  test.each([
    ['malformed JSON', 'POST', '/sql', '{"query": ', 400],
    ['a query of the wrong type', 'POST', '/sql', JSON.stringify({ query: 42 }), 400],
    ['an unknown role', 'POST', '/sql', JSON.stringify({ query: 'select 1', role: 'postgres' }), 400],
    ['a user run without a user id', 'POST', '/sql', JSON.stringify({ query: 'select 1', role: 'user' }), 400],
    ['a NUL in the query', 'POST', '/sql', JSON.stringify({ query: 'select 1\u0000' }), 400],
    [
      'a NUL in a row value',
      'POST',
      '/tables/public/open_table/rows',
      JSON.stringify({ row: { id: 1, label: 'a\u0000' } }),
      400,
    ],
    ['an unknown column', 'POST', '/tables/public/open_table/rows', JSON.stringify({ row: { nope: 1 } }), 400],
    [
      'an unknown filter operator',
      'POST',
      '/tables/public/open_table/rows/browse',
      JSON.stringify({ filters: [{ column: 'id', op: 'regex', value: '1' }] }),
      400,
    ],
    [
      'a sort on an unknown column',
      'POST',
      '/tables/public/open_table/rows/browse',
      JSON.stringify({ sort: { column: 'x";drop table notes;--' } }),
      400,
    ],
    ['a missing table', 'POST', '/tables/public/missing/rows/browse', '{}', 404],
    [
      'a value of the wrong type for its column',
      'POST',
      '/tables/public/open_table/rows',
      JSON.stringify({ row: { id: 'abc' } }),
      400,
    ],
    ['a user id that is no UUID', 'DELETE', '/auth/users/not-a-uuid', undefined, 400],
    [
      'a row nested thousands deep',
      'POST',
      '/tables/public/open_table/rows',
      `{"row": {"label": ${'['.repeat(5000)}${']'.repeat(5000)}}}`,
      400,
    ],
    ['a huge body', 'POST', '/sql', JSON.stringify({ query: `select '${'x'.repeat(300_000)}'` }), 413],
    ['an unknown endpoint', 'GET', '/nothing-here', undefined, 404],
  ])('%s', async (_name, method, url, raw, status) => {
    const res = await call(method, url, {
      ...(raw !== undefined && { raw }),
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(status);
  });
});

describe('tables', () => {
  test('lists tables with RLS state and warns about a public table without it', async () => {
    const res = await call('GET', '/tables');
    expect(res.status).toBe(200);
    expect(res.body.schemas).toContain('public');
    const notes = (res.body.tables as any[]).find((t: any) => t.schema === 'public' && t.name === 'notes');
    const open = (res.body.tables as any[]).find((t: any) => t.schema === 'public' && t.name === 'open_table');
    expect(notes).toMatchObject({ kind: 'table', rls: true, warning: null });
    expect(open).toMatchObject({ kind: 'table', rls: false });
    expect(open.warning).toMatch(/anon key/);
  });
  test('a table detail has columns, primary key, indexes and policies', async () => {
    const res = await call('GET', '/tables/public/notes');
    expect(res.status).toBe(200);
    expect(res.body.primaryKey).toEqual(['id']);
    expect((res.body.columns as any[]).map((c: any) => c.name)).toEqual(['id', 'owner', 'body']);
    expect(res.body.indexes[0].primary).toBe(true);
    expect(res.body.policies).toEqual([
      expect.objectContaining({ name: 'owners delete, uid once', command: 'DELETE', advice: [] }),
      expect.objectContaining({ name: 'owners edit through a function', command: 'UPDATE' }),
      expect.objectContaining({ name: 'owners read their notes', command: 'SELECT', roles: ['authenticated'] }),
    ]);
  });
  test("a policy's advice names per-row calls: an unwrapped auth.uid() and a SECURITY DEFINER function", async () => {
    const res = await call('GET', '/tables/public/notes');
    const advice = (name: string) => (res.body.policies as any[]).find((p: any) => p.name === name).advice as string[];
    expect(advice('owners read their notes')).toEqual([
      expect.stringMatching(/^auth\.uid\(\) is evaluated for every row/),
    ]);
    expect(advice('owners edit through a function')).toEqual([
      expect.stringMatching(/^public\.owns\(\) is SECURITY DEFINER .* calls it for every row/),
    ]);
    expect(advice('owners delete, uid once')).toEqual([]);
  });
  test('rows: insert, browse with filter and sort, update and delete by primary key', async () => {
    for (const [id, label] of [
      [1, 'one'],
      [2, 'two'],
      [3, 'three'],
    ] as const)
      expect((await call('POST', '/tables/public/open_table/rows', { body: { row: { id, label } } })).status).toBe(201);
    const page = await call('POST', '/tables/public/open_table/rows/browse', {
      body: {
        filters: [{ column: 'label', op: 'ilike', value: 't%' }],
        sort: { column: 'id', ascending: false },
        limit: 1,
      },
    });
    expect(page.status).toBe(200);
    expect(page.body.total).toBe(2);
    expect(page.body.rows).toEqual([{ id: 3, label: 'three' }]);
    const updated = await call('PATCH', '/tables/public/open_table/rows', {
      body: { key: { id: 2 }, row: { label: 'deux' } },
    });
    expect(updated.body.row).toEqual({ id: 2, label: 'deux' });
    expect((await call('DELETE', '/tables/public/open_table/rows', { body: { key: { id: 1 } } })).status).toBe(200);
    expect((await call('DELETE', '/tables/public/open_table/rows', { body: { key: { id: 1 } } })).status).toBe(404);
    // An estimate: ANALYZE's count (or the statistics' live rows, whichever is larger).
    await call('POST', '/sql', { body: { query: 'analyze public.open_table' } });
    await expect
      .poll(
        async () =>
          ((await call('GET', '/tables')).body.tables as any[]).find((t) => t.name === 'open_table').rowsEstimate,
        {
          timeout: 5000,
        },
      )
      .toBe(2);
    const { rows } = await server.sql.query('select id, label from public.open_table order by id');
    expect(rows).toEqual([
      { id: 2, label: 'deux' },
      { id: 3, label: 'three' },
    ]);
  });
  test('a row the database refuses (a view that cannot be written) is a 400 with its SQLSTATE', async () => {
    await call('POST', '/sql', {
      body: { query: 'create view public.note_count as select count(*) as n from public.notes' },
    });
    const res = await call('POST', '/tables/public/note_count/rows', { body: { row: { n: 1 } } });
    expect(res.status).toBe(400);
    expect(res.body.code).toMatch(/^(55000|0A000)$/);
    const list = await call('GET', '/tables');
    expect((list.body.tables as any[]).find((t) => t.name === 'note_count')).toMatchObject({
      kind: 'view',
      warning: null,
    });
  });
  test('a name with a quote in it is quoted, not spliced', async () => {
    await call('POST', '/sql', { body: { query: 'create table public."odd""name" (id int primary key)' } });
    expect((await call('POST', '/tables/public/odd%22name/rows', { body: { row: { id: 7 } } })).status).toBe(201);
    expect((await server.sql.query('select id from public."odd""name"')).rows).toEqual([{ id: 7 }]);
  });
});

describe('the SQL editor', () => {
  test('as a user, row-level security hides the rows the user may not see', async () => {
    const created = await call('POST', '/auth/users', {
      body: { email: 'rls-user@example.com', password: 'password-123' },
    });
    expect(created.status).toBe(201);
    const userId = created.body.id as string;
    const other = crypto.randomUUID();
    const insert = await call('POST', '/sql', {
      body: { query: `insert into public.notes (owner, body) values ('${userId}', 'mine'), ('${other}', 'theirs')` },
    });
    expect(insert.status).toBe(200);
    const asService = await call('POST', '/sql', { body: { query: 'select body from public.notes order by body' } });
    expect(asService.body.rows).toEqual([['mine'], ['theirs']]);
    const asUser = await call('POST', '/sql', {
      body: { query: 'select body, auth.uid() as uid from public.notes', role: 'user', userId },
    });
    expect(asUser.status).toBe(200);
    expect(asUser.body.columns).toEqual(['body', 'uid']);
    expect(asUser.body.rows).toEqual([['mine', userId]]);
    const asAnon = await call('POST', '/sql', {
      body: { query: 'select count(*)::int from public.notes', role: 'anon' },
    });
    expect(asAnon.status).toBe(200);
    expect(asAnon.body.rows).toEqual([[0]]);
  });
  test('a user run cannot leave its role with a second statement', async () => {
    const { body } = await call('POST', '/auth/users', {
      body: { email: 'two-statements@example.com', password: 'password-123' },
    });
    const res = await call('POST', '/sql', {
      body: { query: 'reset role; select current_user', role: 'user', userId: body.id },
    });
    expect(res.status).toBe(400);
  });
  test('a user that does not exist: 404', async () => {
    const res = await call('POST', '/sql', { body: { query: 'select 1', role: 'user', userId: crypto.randomUUID() } });
    expect(res.status).toBe(404);
  });
  test('EXPLAIN answers the plan', async () => {
    const res = await call('POST', '/sql', { body: { query: 'select * from public.notes', explain: true } });
    expect(res.status).toBe(200);
    expect((res.body.plan as string[]).join('\n')).toMatch(/Seq Scan on notes/);
  });
  test('a statement past STUDIO_SQL_TIMEOUT_MS is cancelled (57014)', async () => {
    const res = await call('POST', '/sql', { body: { query: 'select pg_sleep(3)' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('57014');
  });
  test('a syntax error answers 400 with its SQLSTATE', async () => {
    const res = await call('POST', '/sql', { body: { query: 'selec 1' } });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('42601');
  });
  test('a `set role` in a service run does not stay on a pooled connection', async () => {
    await call('POST', '/sql', { body: { query: 'set role anon' } });
    const again = await call('POST', '/sql', { body: { query: 'select current_user::text' } });
    expect(again.body.rows[0][0]).not.toBe('anon');
  });
});

describe('auth users', () => {
  test('create, search, ban, delete', async () => {
    const created = await call('POST', '/auth/users', {
      body: { email: 'findme@example.com', password: 'password-123' },
    });
    expect(created.status).toBe(201);
    const found = await call('GET', '/auth/users?q=findme');
    expect((found.body.users as any[]).map((u: any) => u.email)).toEqual(['findme@example.com']);
    const banned = await call('POST', `/auth/users/${created.body.id}/ban`, { body: { duration: '24h' } });
    expect(banned.status).toBe(200);
    expect((await call('GET', '/auth/users?q=findme')).body.users[0].banned_until).not.toBeNull();
    expect(
      (await call('POST', `/auth/users/${created.body.id}/ban`, { body: { duration: 'forever-ish' } })).status,
    ).toBe(400);
    expect((await call('DELETE', `/auth/users/${created.body.id}`)).status).toBe(200);
    expect((await call('GET', '/auth/users?q=findme')).body.users).toEqual([]);
  });
  test('sessions: listed, and deleting them signs the user out everywhere', async () => {
    const created = await call('POST', '/auth/users', {
      body: { email: 'sessions@example.com', password: 'password-123' },
    });
    const signIn = await fetch(`${server.url}/auth/v1/token?grant_type=password`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'sessions@example.com', password: 'password-123' }),
    });
    const { refresh_token: refreshToken } = (await signIn.json()) as { refresh_token: string };
    const listed = await call('GET', `/auth/users/${created.body.id}/sessions`);
    expect(listed.body.sessions).toHaveLength(1);
    expect((await call('DELETE', `/auth/users/${created.body.id}/sessions`)).body).toEqual({ removed: 1 });
    expect((await call('GET', `/auth/users/${created.body.id}/sessions`)).body.sessions).toEqual([]);
    const refresh = await fetch(`${server.url}/auth/v1/token?grant_type=refresh_token`, {
      method: 'POST',
      headers: { apikey: server.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ refresh_token: refreshToken }),
    });
    expect(refresh.status).toBe(400);
  });
  test('a duplicate email is the admin API’s 422, passed on', async () => {
    await call('POST', '/auth/users', { body: { email: 'dup@example.com', password: 'password-123' } });
    const again = await call('POST', '/auth/users', { body: { email: 'dup@example.com', password: 'password-123' } });
    expect(again.status).toBe(422);
  });
});

describe('storage', () => {
  test('bucket, upload, list, signed URL, download', async () => {
    expect((await call('POST', '/storage/buckets', { body: { name: 'docs' } })).status).toBe(201);
    const up = await call('POST', '/storage/buckets/docs/objects?path=hello%20world.txt', {
      raw: 'hello studio',
      headers: { 'content-type': 'text/plain' },
    });
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    const list = await call('GET', '/storage/buckets/docs/objects');
    expect((list.body as any[]).map((o: any) => o.name)).toEqual(['hello world.txt']);
    const signed = await call('POST', '/storage/buckets/docs/sign', {
      body: { path: 'hello world.txt', expiresIn: 60 },
    });
    expect(signed.status).toBe(200);
    const viaSigned = await fetch(signed.body.signedUrl);
    expect(await viaSigned.text()).toBe('hello studio');
    const download = await call('GET', '/storage/buckets/docs/download?path=hello%20world.txt');
    expect(download.body).toBe('hello studio');
    expect((await call('GET', '/storage/buckets/docs/download')).status).toBe(400);
  });
});

describe('realtime', () => {
  test('a test broadcast reaches a subscribed client, and the counts show its socket', async () => {
    const client = supabaseClient(server);
    try {
      const received = new Promise<unknown>((resolve) => {
        const channel = client.channel('studio-test');
        channel.on('broadcast', { event: 'ping' }, (m) => resolve(m.payload));
        channel.subscribe();
      });
      await expect
        .poll(async () => (await call('GET', '/metrics')).body.realtime.channels, { timeout: 10_000 })
        .toBeGreaterThan(0);
      const sent = await call('POST', '/realtime/broadcast', {
        body: { channel: 'studio-test', event: 'ping', payload: { n: 1 } },
      });
      expect(sent.status).toBe(202);
      expect(await received).toEqual({ n: 1 });
      expect((await call('GET', '/metrics')).body.realtime.connections).toBeGreaterThan(0);
    } finally {
      await client.removeAllChannels();
    }
  });
  test('a payload that is not an object: 400', async () => {
    const res = await call('POST', '/realtime/broadcast', { body: { channel: 'x', event: 'y', payload: [1] } });
    expect(res.status).toBe(400);
  });
});

describe('observability and operations', () => {
  test('the metrics summary counts requests', async () => {
    const before = await call('GET', '/metrics');
    await fetch(`${server.url}/health`);
    await fetch(`${server.url}/health`);
    const after = await call('GET', '/metrics');
    expect(after.body.requests.total).toBeGreaterThanOrEqual(before.body.requests.total + 3);
    expect(after.body.latency.p50).toBeGreaterThan(0);
    expect(after.body.db.idle + after.body.db.inUse).toBeGreaterThan(0);
    // Studio's own calls are counted under their routes, not as unmatched (404) requests.
    const routes = (after.body.routes as { route: string }[]).map((r) => r.route);
    expect(routes).toContain('/studio/api/:path{.+}');
  });
  test('the recent request log, filtered by status class and text', async () => {
    await fetch(`${server.url}/rest/v1/no_such_table_for_the_log`, { headers: { apikey: server.anonKey } });
    const res = await call('GET', '/requests?status=4xx&q=no_such_table_for_the_log');
    expect(res.status).toBe(200);
    expect(res.body.requests).toEqual([
      expect.objectContaining({ method: 'GET', path: '/rest/v1/no_such_table_for_the_log', status: 404 }),
    ]);
    expect((await call('GET', '/requests?status=2xx&q=no_such_table_for_the_log')).body.requests).toEqual([]);
    expect((await call('GET', '/requests?status=9xx')).status).toBe(400);
  });
  test('migrations: the project file is applied, none pending', async () => {
    const res = await call('GET', '/migrations');
    expect(res.body.applied).toEqual([expect.objectContaining({ version: '20240101000000', name: 'notes' })]);
    expect(res.body.pending).toEqual([]);
  });
  test('backups: none yet in BACKUP_TARGET', async () => {
    const res = await call('GET', '/backups');
    expect(res.status).toBe(200);
    expect(res.body.backups).toEqual([]);
    expect(typeof res.body.where).toBe('string');
  });
});

describe('the dashboard', () => {
  test('GET /studio serves the built app, not framable', async () => {
    const res = await fetch(`${server.url}/studio`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const html = await res.text();
    expect(html).toMatch(/Trellis Studio/);
    const asset = /src="\/studio\/(assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(asset).toBeDefined();
    const js = await fetch(`${server.url}/studio/${asset}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    // A path that climbs out is a page of the app (index.html), never a file outside dist/studio-web.
    const climbing = await fetch(`${server.url}/studio/assets/..%2f..%2f..%2fpackage.json`);
    expect(await climbing.text()).not.toMatch(/"dependencies"/);
    expect((await fetch(`${server.url}/studio/assets/missing-file.js`)).status).toBe(404);
  });
});

// Last: it uses up this address's sign-in attempts.
describe('password guessing', () => {
  test('past ten attempts a minute, sign-in answers 429 with Retry-After, even with the right password', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++)
      statuses.push((await call('POST', '/session', { auth: 'none', body: { password: `guess-${i}` } })).status);
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThan(5);
    const right = await call('POST', '/session', { auth: 'none', body: { password: PASSWORD } });
    expect(right.status).toBe(429);
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    // A signed-in dashboard is not affected.
    expect((await call('GET', '/tables')).status).toBe(200);
  });
});
