/**
 * A database webhook (supabase_functions.http_request) and a cron job (net.http_post, as
 * Supabase's docs schedule a function) reach an edge function by its /functions/v1/<name> URL with
 * the service-role key, as on Supabase; or by its name alone (trellis.invoke_function,
 * trellis.function_webhook), the key added by the sender. The function's answer is recorded in
 * net._http_response.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;

const RECORDER = `Deno.serve(async (req) => {
  const payload = await req.json();
  return Response.json({ got: payload, role: JSON.parse(atob(req.headers.get('authorization')!.split('.')[1])).role });
});
`;

beforeAll(async () => {
  server = await startTestServer({
    env: { NET_POLL_INTERVAL_MS: '200' },
    files: { 'supabase/functions/on-order/index.ts': RECORDER, 'supabase/functions/nightly/index.ts': RECORDER },
    migrations: {
      '0001_orders.sql': `create table public.orders (id bigint primary key, status text);
        alter table public.orders enable row level security;
        create policy "anyone may order" on public.orders for insert to anon with check (true);
        grant insert on public.orders to anon;
        create table public.refunds (id bigint primary key, amount int);
        alter table public.refunds enable row level security;
        create policy "anyone may ask" on public.refunds for insert to anon with check (true);
        grant insert on public.refunds to anon;`,
    },
  });
});
afterAll(async () => server?.stop());

async function responseFor(id: string | undefined, match: RegExp): Promise<{ status_code: number; content: string }> {
  for (let i = 0; i < 100; i++) {
    const { rows } = await server.sql.query<{ status_code: number; content: string }>(
      `select status_code, content from net._http_response where ($1::bigint is null or id = $1::bigint) and content ~ $2`,
      [id ?? null, match.source],
    );
    if (rows[0]) return rows[0];
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('no response recorded');
}

test('a database webhook calls a function by its URL', async () => {
  await server.sql.query(`create trigger orders_hook after insert on public.orders for each row
    execute function supabase_functions.http_request('${server.url}/functions/v1/on-order', 'POST',
      '{"Content-Type":"application/json","Authorization":"Bearer ${server.serviceRoleKey}"}', '{}', '5000')`);
  expect((await supabaseClient(server).from('orders').insert({ id: 1, status: 'new' })).error).toBeNull();
  const response = await responseFor(undefined, /INSERT/);
  expect(response.status_code).toBe(200);
  expect(JSON.parse(response.content)).toEqual({
    got: { type: 'INSERT', table: 'orders', schema: 'public', record: { id: 1, status: 'new' }, old_record: null },
    role: 'service_role',
  });
});

test('a cron job calls a function with net.http_post, as Supabase schedules functions', async () => {
  await server.sql.query(
    `select cron.schedule('call-nightly', '1 seconds', $$select net.http_post(
      url := '${server.url}/functions/v1/nightly',
      headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ${server.serviceRoleKey}'),
      body := '{"job": "nightly"}'::jsonb)$$)`,
  );
  const response = await responseFor(undefined, /nightly/);
  await server.sql.query(`select cron.unschedule('call-nightly')`);
  expect(response.status_code).toBe(200);
  expect(JSON.parse(response.content)).toEqual({ got: { job: 'nightly' }, role: 'service_role' });
});

test('a cron job calls a function by name with trellis.invoke_function, as the service role', async () => {
  await server.sql.query(
    `select cron.schedule('call-by-name', '1 seconds', $$select trellis.invoke_function('nightly', '{"job": "by-name"}')$$)`,
  );
  const response = await responseFor(undefined, /by-name/);
  await server.sql.query(`select cron.unschedule('call-by-name')`);
  expect(response.status_code).toBe(200);
  expect(JSON.parse(response.content)).toEqual({ got: { job: 'by-name' }, role: 'service_role' });
});

test('trellis.function_webhook sends a row written by anon to a function by name', async () => {
  await server.sql.query(`create trigger refunds_hook after insert on public.refunds for each row
    execute function trellis.function_webhook('on-order', '5000')`);
  expect((await supabaseClient(server).from('refunds').insert({ id: 7, amount: 12 })).error).toBeNull();
  const response = await responseFor(undefined, /refunds/);
  expect(response.status_code).toBe(200);
  expect(JSON.parse(response.content)).toEqual({
    got: { type: 'INSERT', table: 'refunds', schema: 'public', record: { id: 7, amount: 12 }, old_record: null },
    role: 'service_role',
  });
  const { rows } = await server.sql.query<{ hook_name: string }>(
    `select hook_name from supabase_functions.hooks where hook_name = 'refunds_hook'`,
  );
  expect(rows).toHaveLength(1);
});

test('a function that does not exist answers 404 into the response table', async () => {
  const { rows } = await server.sql.query<{ id: string }>(`select trellis.invoke_function('no-such-fn') as id`);
  const response = await responseFor(rows[0]?.id, /./);
  expect(response.status_code).toBe(404);
});

test.each([
  ['a path', `'../etc'`, /not a function name/],
  ['a NUL-free injection', `'x''); drop table public.orders; --'`, /not a function name/],
  ['null', 'null', /not a function name/],
  ['a timeout out of range', `'nightly', '{}', '{}', 0`, /timeout_milliseconds/],
  ['headers that are not an object', `'nightly', '{}', '[1]'`, /headers must be a JSON object/],
])('trellis.invoke_function refuses %s', async (_what, args, message) => {
  await expect(server.sql.query(`select trellis.invoke_function(${args})`)).rejects.toThrow(message);
});

test('anon and authenticated cannot call trellis.invoke_function', async () => {
  const client = await server.sql.connect();
  try {
    for (const role of ['anon', 'authenticated']) {
      await client.query(`set role ${role}`);
      await expect(client.query(`select trellis.invoke_function('nightly')`)).rejects.toThrow(/permission denied/);
      await client.query('reset role');
    }
  } finally {
    client.release();
  }
});
