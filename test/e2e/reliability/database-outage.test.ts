/**
 * issue 12, items 3 and 4: a database that is slow, frozen or stopped answers 503/504 with
 * Retry-After in each API family's shape, within the configured deadlines, and the same server
 * serves again by itself once the database is back. Runs on a PostgreSQL of its own.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { startOwnPostgres, type OwnPostgres } from './own-postgres.js';

const STATEMENT_TIMEOUT_MS = 1500;
const QUERY_TIMEOUT_MS = 2500;
const CONNECT_TIMEOUT_MS = 1500;
/** Scheduling, a busy CI machine: what an answer may take beyond the deadline that produced it. */
const MARGIN_MS = 1500;

const MIGRATION = `
create table public.items (id int primary key, name text not null);
insert into public.items select g, 'item ' || g from generate_series(1, 5) g;
grant select on public.items to anon, authenticated, service_role;
create function public.nap(seconds float) returns int language sql as $$ select 1 from pg_sleep(seconds) $$;
grant execute on function public.nap(float) to anon;
`;

let db: OwnPostgres;
let server: TestServer;

beforeAll(async () => {
  db = await startOwnPostgres();
  server = await startTestServer({
    databaseUrl: db.url,
    migrations: { '20240101000000_items.sql': MIGRATION },
    env: {
      DB_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      DB_QUERY_TIMEOUT_MS: String(QUERY_TIMEOUT_MS),
      DB_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
      // Half serves requests (src/db/pool.ts forRequests): room for the five in-flight requests.
      DB_POOL_MAX: '12',
    },
  });
  // The helper's own pool to this database: its idle connections fail when the database stops.
  server.sql.on('error', () => undefined);
  // A user to sign in as, and a bucket to list, made while the database is up.
  const admin = supabaseClient(server, server.serviceRoleKey);
  const created = await admin.auth.admin.createUser({
    email: 'frozen@example.com',
    password: 'password-1',
    email_confirm: true,
  });
  expect(created.error).toBeNull();
  expect((await admin.storage.createBucket('photos')).error).toBeNull();
});

afterAll(async () => {
  await db?.thaw();
  await server?.stop();
  await db?.remove();
});

interface Answer {
  readonly status: number;
  readonly retryAfter: string | null;
  readonly body: Record<string, unknown>;
  readonly ms: number;
}

async function call(path: string, init: RequestInit = {}, key = server.anonKey): Promise<Answer> {
  const started = Date.now();
  const res = await fetch(`${server.url}${path}`, {
    ...init,
    headers: { apikey: key, 'content-type': 'application/json', ...init.headers },
  });
  const text = await res.text();
  return {
    status: res.status,
    retryAfter: res.headers.get('retry-after'),
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    ms: Date.now() - started,
  };
}

const signIn = () =>
  call('/auth/v1/token?grant_type=password', {
    method: 'POST',
    headers: { 'x-supabase-api-version': '2024-01-01' },
    body: JSON.stringify({ email: 'frozen@example.com', password: 'password-1' }),
  });
const listBuckets = () => call('/storage/v1/bucket', {}, server.serviceRoleKey);
const readItems = () => call('/rest/v1/items?select=id&order=id');

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a database outage', () => {
  test('a statement past DB_STATEMENT_TIMEOUT_MS answers 504 with its SQLSTATE 57014 and Retry-After', async () => {
    const answer = await call('/rest/v1/rpc/nap', { method: 'POST', body: JSON.stringify({ seconds: 5 }) });
    expect(answer.status).toBe(504);
    expect(answer.retryAfter).toBe('1');
    expect(answer.body).toEqual({
      code: '57014',
      message: 'canceling statement due to statement timeout',
      details: null,
      hint: null,
    });
    expect(answer.ms).toBeLessThan(STATEMENT_TIMEOUT_MS + MARGIN_MS);
    // supabase-js hands the status and PostgREST's code to the caller.
    const { error, status } = await supabaseClient(server).rpc('nap', { seconds: 5 });
    expect(status).toBe(504);
    expect(error?.code).toBe('57014');
    // The connection went back to the pool in order: the next request is served.
    expect((await readItems()).status).toBe(200);
  });

  test('a frozen database (SIGSTOP) answers every family 503/504 within the deadline, and the same server recovers on SIGCONT', async () => {
    expect((await readItems()).status).toBe(200);
    // Five requests in flight when the database freezes, on connections the pool holds.
    const inFlight = Array.from({ length: 5 }, () =>
      call('/rest/v1/rpc/nap', { method: 'POST', body: JSON.stringify({ seconds: 1 }) }),
    );
    await sleep(300);
    await db.freeze();
    try {
      const frozenAt = Date.now();
      const answers = await Promise.all(inFlight);
      for (const answer of answers) {
        expect({ status: answer.status, retryAfter: answer.retryAfter, body: answer.body }).toMatchObject({
          status: 503,
          retryAfter: '1',
          body: {
            code: 'PGRST001',
            message: 'Database client error. Retrying the connection.',
            details: `Query read timeout`,
          },
        });
      }
      expect(Date.now() - frozenAt).toBeLessThan(QUERY_TIMEOUT_MS + MARGIN_MS);

      // New requests while it stays frozen: a pooled connection that never answers (the query
      // deadline), or a new one that never opens (the connect timeout), whichever comes first.
      const bound = CONNECT_TIMEOUT_MS + QUERY_TIMEOUT_MS + MARGIN_MS;
      const [rest, auth, storage] = await Promise.all([readItems(), signIn(), listBuckets()]);
      for (const answer of [rest, auth, storage]) {
        expect([503, 504]).toContain(answer.status);
        expect(answer.retryAfter).toBe('1');
        expect(answer.ms).toBeLessThan(bound);
      }
      expect(['PGRST000', 'PGRST001', 'PGRST003']).toContain(rest.body.code);
      expect(auth.body).toEqual(
        auth.status === 504
          ? { code: 'request_timeout', message: 'Processing this request timed out, please retry after a moment.' }
          : { code: 'unexpected_failure', message: 'The database is unavailable, please retry after a moment.' },
      );
      expect(storage.body).toEqual(
        storage.status === 504
          ? {
              statusCode: '544',
              code: 'DatabaseTimeout',
              error: 'DatabaseTimeout',
              message: 'The connection to the database timed out',
            }
          : {
              statusCode: '503',
              code: 'DatabaseError',
              error: 'DatabaseError',
              message: 'The database is unavailable, please retry after a moment',
            },
      );
      // supabase-js: auth-js treats 503/504 as retryable; storage-js and postgrest-js report the status.
      const client = supabaseClient(server);
      const [signedIn, selected] = await Promise.all([
        client.auth.signInWithPassword({ email: 'frozen@example.com', password: 'password-1' }),
        client.from('items').select('id'),
      ]);
      expect(signedIn.error?.name).toBe('AuthRetryableFetchError');
      expect([503, 504]).toContain(signedIn.error?.status);
      expect([503, 504]).toContain(selected.status);
      // /ready says so instead of hanging.
      const ready = await fetch(`${server.url}/ready`);
      expect(ready.status).toBe(503);
    } finally {
      await db.thaw();
    }

    // The same server, untouched, serves again: no stuck pool, no connection left behind.
    const deadline = Date.now() + 15_000;
    let recovered = await readItems();
    while (recovered.status !== 200 && Date.now() < deadline) {
      await sleep(250);
      recovered = await readItems();
    }
    expect(recovered.status).toBe(200);
    expect(recovered.body).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }]);
    const burst = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 3 === 0 ? signIn() : i % 3 === 1 ? listBuckets() : readItems())),
    );
    expect(burst.map((a) => a.status)).toEqual(Array(20).fill(200));
    const open = await server.sql.query<{ n: number }>(
      "select count(*)::int as n from pg_stat_activity where application_name = 'trellis'",
    );
    expect(open.rows[0]?.n).toBeLessThanOrEqual(12);
  });

  test('a stopped database answers 503 with Retry-After: PostgREST PGRST000 for /rest, GoTrue, storage-api and realtime shapes', async () => {
    expect((await readItems()).status).toBe(200);
    await db.stop();
    // The first answers may come from pooled connections that learn of the shutdown only now
    // (PGRST001 or 57P01); once they are gone, a connection cannot be opened: PGRST000.
    const first = await readItems();
    expect(first.status).toBe(503);
    expect(first.retryAfter).toBe('1');
    expect(['PGRST000', 'PGRST001', '57P01']).toContain(first.body.code);
    const rest = await readItems();
    expect(rest.status).toBe(503);
    expect(rest.retryAfter).toBe('1');
    expect(rest.body).toMatchObject({ code: 'PGRST000', message: 'Database connection error.', hint: null });
    expect(String(rest.body.details)).toMatch(/ECONNREFUSED/);

    const auth = await signIn();
    expect(auth.status).toBe(503);
    expect(auth.retryAfter).toBe('1');
    expect(auth.body).toEqual({
      code: 'unexpected_failure',
      message: 'The database is unavailable, please retry after a moment.',
    });

    const storage = await listBuckets();
    expect(storage.status).toBe(503);
    expect(storage.retryAfter).toBe('1');
    expect(storage.body).toEqual({
      statusCode: '503',
      code: 'DatabaseError',
      error: 'DatabaseError',
      message: 'The database is unavailable, please retry after a moment',
    });

    const { error, status } = await supabaseClient(server).from('items').select('id');
    expect(status).toBe(503);
    expect(error?.code).toBe('PGRST000');

    // Realtime's broadcast API asks the database whether a private topic may be written.
    const broadcast = await call('/realtime/v1/api/broadcast', {
      method: 'POST',
      headers: { authorization: `Bearer ${server.anonKey}` },
      body: JSON.stringify({ messages: [{ topic: 'room', event: 'ping', payload: {}, private: true }] }),
    });
    expect(broadcast.status).toBe(503);
    expect(broadcast.retryAfter).toBe('1');
    expect(broadcast.body).toEqual({
      code: 'database_unavailable',
      message: 'The database is unavailable, please retry after a moment',
      details: null,
      hint: null,
    });
  });
});
