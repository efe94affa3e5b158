import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { replicatedPostgres, PG15_BIN, type ReplicatedPostgres } from '../../helpers/replica-postgres.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * Read replicas against a real streaming standby: pausing its replay (pg_wal_replay_pause) makes a
 * replica read visibly stale, which is how each test tells where a read was served.
 */
const SCHEMA = `
create table public.notes (id serial primary key, owner uuid default auth.uid(), body text not null);
alter table public.notes enable row level security;
create policy "anyone reads notes" on public.notes for select using (true);
create policy "users write their notes" on public.notes for insert to authenticated with check (owner = auth.uid());
grant select on public.notes to anon, authenticated;
grant insert on public.notes to authenticated;
grant usage on sequence public.notes_id_seq to authenticated;
create function public.note_count() returns bigint language sql stable as $$ select count(*) from public.notes $$;
create policy "anyone lists pub" on storage.objects for select using (bucket_id = 'pub');
create policy "users upload to pub" on storage.objects for insert to authenticated with check (bucket_id = 'pub');
`;

const PROBE_MS = 100;
const MAX_LAG_MS = 1500;

let pgs: ReplicatedPostgres | undefined;
let server: TestServer;
let standby: pg.Pool;
let anon: SupabaseClient;
let alice: SupabaseClient;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > end)
      throw new Error(`timed out waiting: ${what} (${JSON.stringify(await ready().catch(() => null))})`);
    await sleep(50);
  }
}

interface Ready {
  status: string;
  degraded?: string[];
  replicas?: { state: string }[];
}
const ready = async () => (await fetch(`${server.url}/ready`)).json() as Promise<Ready>;
const replicaHealthy = () =>
  eventually('the replica serves reads', async () => {
    const r = await ready();
    return r.replicas?.[0]?.state === 'healthy' && r.degraded === undefined ? true : undefined;
  });

/** Runs `fn` with the standby's replay paused; replay resumes after, whatever happens. */
async function whilePaused<T>(fn: () => Promise<T>): Promise<T> {
  await standby.query('select pg_wal_replay_pause()');
  try {
    return await fn();
  } finally {
    await standby.query('select pg_wal_replay_resume()');
  }
}

const bodies = async (client: SupabaseClient) => {
  const { data, error, status } = await client.from('notes').select('body').order('id');
  expect(error).toBeNull();
  expect(status).toBe(200);
  return (data ?? []).map((r: { body: string }) => r.body);
};

const accessToken = async (client: SupabaseClient) => (await client.auth.getSession()).data.session?.access_token ?? '';

beforeAll(async () => {
  pgs = await replicatedPostgres();
  if (!pgs) return;
  server = await startTestServer({
    databaseUrl: pgs.primary.url,
    migrations: { '20240101000000_notes.sql': SCHEMA },
    env: {
      DATABASE_READ_URL: pgs.standby.url,
      DB_READ_PROBE_INTERVAL_MS: String(PROBE_MS),
      DB_READ_MAX_LAG_MS: String(MAX_LAG_MS),
      DB_READ_FENCE_WAIT_MS: '50',
      // A frozen replica is given up on after this (the primary answers well within it).
      DB_QUERY_TIMEOUT_MS: '1500',
      ...(process.env.REDIS_URL && { REDIS_URL: process.env.REDIS_URL }),
    },
  });
  standby = new pg.Pool({ connectionString: pgs.standby.url, max: 2 });
  standby.on('error', () => undefined);
  anon = supabaseClient(server);
  alice = supabaseClient(server);
  const { error } = await alice.auth.signUp({ email: 'alice@example.com', password: 'alice password' });
  if (error) throw error;
  const admin = supabaseClient(server, server.serviceRoleKey);
  const bucket = await admin.storage.createBucket('pub', { public: false });
  if (bucket.error) throw bucket.error;
  await replicaHealthy();
});

afterAll(async () => {
  if (!pgs) return;
  await standby?.end();
  await server?.stop();
  await pgs.destroy();
});

describe.skipIf(!process.env.CI && !(await import('node:fs')).existsSync(`${PG15_BIN}/pg_basebackup`))(
  'read replicas on a streaming standby',
  () => {
    test('table reads and GET RPCs are served by the replica', async () => {
      await whilePaused(async () => {
        await server.sql.query("insert into public.notes (body) values ('written on the primary')");
        // The replica has not replayed the insert: a read it serves does not see it.
        expect(await bodies(anon)).not.toContain('written on the primary');
        const count = await anon.rpc('note_count', {}, { get: true });
        expect(count.error).toBeNull();
        expect(count.data).toBe(0);
        // A POST call of a stable function runs read-only too, so the replica serves it as well.
        expect((await anon.rpc('note_count')).data).toBe(0);
      });
      await eventually('the replica replays the insert', async () =>
        (await bodies(anon)).includes('written on the primary') ? true : undefined,
      );
    });

    test('a client who just wrote reads its write while the replica is behind', async () => {
      await whilePaused(async () => {
        const insert = await alice.from('notes').insert({ body: 'alice wrote this' }).select('body');
        expect(insert.error).toBeNull();
        // Alice's reads are fenced at her write: the replica has not replayed it, the primary answers.
        expect(await bodies(alice)).toContain('alice wrote this');
        // Another caller has no fence: the replica answers, without the write.
        expect(await bodies(anon)).not.toContain('alice wrote this');
      });
    });

    test('the write answers its LSN, and a client that sends it back reads the write', async () => {
      await whilePaused(async () => {
        const written = await fetch(`${server.url}/rest/v1/notes`, {
          method: 'POST',
          headers: {
            apikey: server.anonKey,
            authorization: `Bearer ${await accessToken(alice)}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ body: 'fenced by header' }),
        });
        expect(written.status).toBe(201);
        const lsn = written.headers.get('x-trellis-lsn') ?? '';
        expect(lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
        expect(written.headers.get('set-cookie')).toContain(`trellis-lsn=${lsn}`);
        // An anonymous client (no per-user fence) passes the header back, as supabase-js does with global headers.
        const fenced = supabaseClient(server);
        const withHeader = createClient(server.url, server.anonKey, {
          auth: { persistSession: false, autoRefreshToken: false },
          global: { headers: { 'x-trellis-lsn': lsn } },
          realtime: { transport: WebSocket as unknown as never },
        });
        expect(await bodies(fenced)).not.toContain('fenced by header');
        expect(await bodies(withHeader)).toContain('fenced by header');
        // The cookie works as the header does (a browser on the API's own origin sends it).
        const byCookie = await fetch(`${server.url}/rest/v1/notes?select=body`, {
          headers: { apikey: server.anonKey, cookie: `trellis-lsn=${lsn}` },
        });
        expect(((await byCookie.json()) as { body: string }[]).map((r) => r.body)).toContain('fenced by header');
      });
    });

    test.skipIf(!process.env.REDIS_URL)(
      'with Redis, a user who wrote through one instance reads the write through another',
      async () => {
        const other = await startTestServer({
          databaseUrl: pgs?.primary.url,
          env: {
            DATABASE_READ_URL: pgs?.standby.url ?? '',
            DB_READ_PROBE_INTERVAL_MS: String(PROBE_MS),
            DB_READ_MAX_LAG_MS: String(MAX_LAG_MS),
            REDIS_URL: process.env.REDIS_URL ?? '',
          },
        });
        try {
          const session = (await alice.auth.getSession()).data.session;
          const there = supabaseClient(other);
          await there.auth.setSession({
            access_token: session?.access_token ?? '',
            refresh_token: session?.refresh_token ?? '',
          });
          await eventually('the other instance uses the replica', async () => {
            const r = (await (await fetch(`${other.url}/ready`)).json()) as Ready;
            return r.replicas?.[0]?.state === 'healthy' ? true : undefined;
          });
          await whilePaused(async () => {
            expect((await alice.from('notes').insert({ body: 'written here, read there' })).error).toBeNull();
            expect(await bodies(there)).toContain('written here, read there');
            expect(await bodies(supabaseClient(other))).not.toContain('written here, read there');
          });
        } finally {
          await other.stop();
        }
      },
    );

    test('a malformed x-trellis-lsn is refused with a message that names it', async () => {
      for (const value of ['yesterday', '1/2/3', 'G/0', `${'F'.repeat(9)}/0`, "0/0'; drop table notes; --"]) {
        const res = await fetch(`${server.url}/rest/v1/notes`, {
          headers: { apikey: server.anonKey, 'x-trellis-lsn': value },
        });
        expect(res.status, value).toBe(400);
        const body = (await res.json()) as { code: string; message: string };
        expect(body.code).toBe('PGRST100');
        expect(body.message).toContain('x-trellis-lsn');
      }
      const storage = await fetch(`${server.url}/storage/v1/object/list/pub`, {
        method: 'POST',
        headers: { apikey: server.anonKey, 'x-trellis-lsn': 'nope', 'content-type': 'application/json' },
        body: JSON.stringify({ prefix: '' }),
      });
      expect(storage.status).toBe(400);
      expect(((await storage.json()) as { message: string }).message).toContain('x-trellis-lsn');
      // A malformed cookie is ignored: the read is answered.
      const cookie = await fetch(`${server.url}/rest/v1/notes`, {
        headers: { apikey: server.anonKey, cookie: 'trellis-lsn=garbage' },
      });
      expect(cookie.status).toBe(200);
      // An LSN no server has reached yet: the bounded wait, then the primary answers.
      const future = await fetch(`${server.url}/rest/v1/notes`, {
        headers: { apikey: server.anonKey, 'x-trellis-lsn': 'FFFFFFFF/FFFFFFFF' },
      });
      expect(future.status).toBe(200);
    });

    test('storage metadata reads are served by the replica, and the uploader reads its upload', async () => {
      await whilePaused(async () => {
        const up = await alice.storage.from('pub').upload('hello.txt', new Blob(['hi']), { contentType: 'text/plain' });
        expect(up.error).toBeNull();
        const mine = await alice.storage.from('pub').list();
        expect(mine.error).toBeNull();
        expect(mine.data?.map((o) => o.name)).toContain('hello.txt');
        const theirs = await anon.storage.from('pub').list();
        expect(theirs.error).toBeNull();
        expect(theirs.data?.map((o) => o.name)).not.toContain('hello.txt');
        const info = await anon.storage.from('pub').info('hello.txt');
        expect(info.error).not.toBeNull();
        expect((await alice.storage.from('pub').download('hello.txt')).data?.size).toBe(2);
      });
    });

    test('a lagging replica is skipped, reported as degraded, and serves again once it catches up', async () => {
      await whilePaused(async () => {
        await server.sql.query("insert into public.notes (body) values ('while lagging')");
        const state = await eventually('the replica is reported lagging', async () => {
          const r = await ready();
          return r.degraded?.some((d) => d.includes('lagging')) ? r : undefined;
        });
        expect(state.status).toBe('ready');
        // Skipped: the primary answers, with the write.
        expect(await bodies(anon)).toContain('while lagging');
      });
      await replicaHealthy();
    });

    test('a dead replica is skipped with reads still answering, and comes back', async () => {
      await pgs?.standby.stop();
      try {
        for (let i = 0; i < 5; i++) expect((await bodies(anon)).length).toBeGreaterThan(0);
        const state = await eventually('the replica is reported down', async () => {
          const r = await ready();
          return r.degraded?.some((d) => d.includes(' down')) ? r : undefined;
        });
        expect(state.status).toBe('ready');
        await server.sql.query("insert into public.notes (body) values ('while down')");
        expect(await bodies(anon)).toContain('while down');
      } finally {
        await pgs?.standby.start();
      }
      await replicaHealthy();
      // Back in use: a paused replay shows in the reads again.
      await whilePaused(async () => {
        await server.sql.query("insert into public.notes (body) values ('after the comeback')");
        expect(await bodies(anon)).not.toContain('after the comeback');
      });
    });

    test('a frozen replica (a host that answers nothing) is given up on, and reads still answer 200', async () => {
      await pgs?.standby.freeze();
      try {
        const started = Date.now();
        for (let i = 0; i < 3; i++) expect((await bodies(anon)).length).toBeGreaterThan(0);
        // At most one read waits for the deadline (1.5 s) before the primary answers it.
        expect(Date.now() - started).toBeLessThan(4000);
        await eventually('the replica is reported down', async () =>
          (await ready()).degraded?.some((d) => d.includes(' down')) ? true : undefined,
        );
      } finally {
        await pgs?.standby.thaw();
      }
      await replicaHealthy();
    });
  },
);
