/**
 * Without a change stream (the machine's PostgreSQL runs with wal_level=replica), a relation opted
 * in with `@cache` is never cached: every read goes to the database, says so in a warning and
 * counts as a bypass, since no change would ever be heard.
 */
import pg from 'pg';
import pino from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { adminUrl } from '../../helpers/db.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer | undefined;
let walLevel = '';
const logged: { msg: string }[] = [];

beforeAll(async () => {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  walLevel = (await admin.query<{ wal_level: string }>('show wal_level')).rows[0]?.wal_level ?? '';
  await admin.end();
  if (walLevel === 'logical') return;
  server = await startTestServer({
    migrations: {
      '20240101000000_rooms.sql': `create table public.rooms (id int primary key);
        comment on table public.rooms is '@cache 30s';
        alter publication supabase_realtime add table public.rooms;`,
    },
    log: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
  });
}, 60_000);
afterAll(async () => server?.stop());

test('without the WAL stream, @cache reads all go to the database, with a warning', async (ctx) => {
  if (walLevel === 'logical') {
    ctx.skip('the test server runs with wal_level=logical (set TEST_DATABASE_URL to a server with wal_level=replica)');
    return;
  }
  const s = server!;
  const headers = { apikey: s.anonKey, authorization: `Bearer ${s.anonKey}` };
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${s.url}/rest/v1/rooms`, { headers });
    expect(r.status).toBe(200);
    expect(r.headers.get('x-trellis-cache')).toBeNull();
    expect(r.headers.get('cache-control')).toBeNull();
  }
  await s.sql.query('insert into public.rooms values (1)');
  expect(await (await fetch(`${s.url}/rest/v1/rooms`, { headers })).json()).toEqual([{ id: 1 }]);
  expect(logged.map((l) => l.msg)).toContainEqual(
    expect.stringMatching(
      /response cache: not caching while the change stream is unavailable: no instance is reading the WAL/,
    ),
  );
  const metrics = await (
    await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${s.serviceRoleKey}` } })
  ).text();
  expect(metrics).toMatch(/trellis_rest_cache_requests_total\{result="bypass"\} [4-9]/);
});
