import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * PostgREST details supabase-js code meets (issue 13): upserts, sequence use of bulk inserts,
 * Content-Range of inserts, range operators, CSV, EXPLAIN, the in-database `pgrst.*` settings of
 * role authenticator, and the request.* settings functions read. On a small library schema.
 */
const LIBRARY = `
create table public.books (id serial primary key, isbn text unique, title text, shelf text default 'new', span int4range, meta jsonb);
insert into public.books (isbn, title, span, meta) values
  ('111', 'A tale, retold', '[1,5)', '{"a": {"b": 1}}'),
  ('222', 'Plain', '[10,20)', null),
  ('333', 'Say "hi"', '[3,12)', '[1, "x"]');
grant select, insert, update, delete on public.books to anon;
grant usage on sequence public.books_id_seq to anon;

create function public.whoami() returns json language sql stable as $$
  select json_build_object(
    'method', current_setting('request.method', true),
    'path', current_setting('request.path', true),
    'traceparent', current_setting('request.headers', true)::json->>'traceparent',
    'session', current_setting('request.cookies', true)::json->>'session')
$$;
create table public.notes (id int primary key, body text);
alter table public.notes enable row level security;
-- A policy may read the request's headers, as on PostgREST.
create policy by_header on public.notes for select to anon
  using (body = current_setting('request.headers', true)::json->>'x-note');
insert into public.notes values (1, 'red'), (2, 'blue');
grant select on public.notes to anon;

-- The settings PostgREST reads from its login role, on this database only (the server is shared).
do $$ begin create role authenticator noinherit; exception when duplicate_object then null; end $$;
`;

let server: TestServer;
let client: SupabaseClient;

/** Sets (or with null resets) pgrst.<name> of role authenticator in this database, then reloads. */
async function dbSetting(name: string, value: string | null): Promise<void> {
  const database = (await server.sql.query<{ d: string }>('select current_database() as d')).rows[0]?.d ?? '';
  const target = `alter role authenticator in database "${database.replaceAll('"', '""')}"`;
  await server.sql.query(
    value === null ? `${target} reset pgrst.${name}` : `${target} set pgrst.${name} = '${value.replaceAll("'", "''")}'`,
  );
  await server.sql.query(`notify pgrst, 'reload config'`);
}

/** Polls until `check` passes: the reload arrives by NOTIFY. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the setting never took effect');
}

const rest = (path: string, init: RequestInit & { headers?: Record<string, string> } = {}) =>
  fetch(`${server.url}/rest/v1/${path}`, { ...init, headers: { apikey: server.anonKey, ...init.headers } });

const planAccept = 'application/vnd.pgrst.plan+json; for="application/json"; options=;';

beforeAll(async () => {
  server = await startTestServer({ migrations: { '20240101000000_library.sql': LIBRARY } });
  client = supabaseClient(server);
});
afterAll(() => server.stop());

describe('upsert', () => {
  test('a body holding only the conflict key updates the row and answers it with 200', async () => {
    const res = await client.from('books').upsert({ isbn: '222' }, { onConflict: 'isbn' }).select('isbn, title');
    expect(res.error).toBeNull();
    expect(res.status).toBe(200);
    expect(res.data).toEqual([{ isbn: '222', title: 'Plain' }]);
  });

  test('an upsert that inserts any row answers 201; one that only updates, 200', async () => {
    const inserted = await client
      .from('books')
      .upsert(
        [
          { isbn: '222', title: 'Plain' },
          { isbn: '444', title: 'New' },
        ],
        { onConflict: 'isbn' },
      )
      .select('isbn');
    expect(inserted.status).toBe(201);
    const updated = await client.from('books').upsert({ isbn: '444', title: 'Newer' }, { onConflict: 'isbn' });
    expect(updated.error).toBeNull();
    expect(updated.status).toBe(200);
    const ignored = await client
      .from('books')
      .upsert({ isbn: '444', title: 'x' }, { onConflict: 'isbn', ignoreDuplicates: true })
      .select();
    expect(ignored.status).toBe(201);
    expect(ignored.data).toEqual([]);
  });

  test('an upsert of a row that names no column inserts it with its defaults and answers 201', async () => {
    const res = await client.from('books').upsert({}).select('shelf');
    expect(res.error).toBeNull();
    expect(res.status).toBe(201);
    expect(res.data).toEqual([{ shelf: 'new' }]);
  });
});

describe('inserts', () => {
  test('missing=default evaluates each default once per row, as PostgREST: a given id still uses a sequence value', async () => {
    const next = (await server.sql.query<{ n: string }>(`select last_value + 1 as n from public.books_id_seq`)).rows[0];
    const res = await client
      .from('books')
      .insert([{ id: 900, isbn: '900' }, { isbn: '901' }], { defaultToNull: false })
      .select('id, isbn, shelf');
    expect(res.error).toBeNull();
    expect(res.data).toEqual([
      { id: 900, isbn: '900', shelf: 'new' },
      { id: Number(next?.n) + 1, isbn: '901', shelf: 'new' },
    ]);
  });

  test('a key given as null stays null under missing=default; absent keys without a default are null', async () => {
    const res = await client
      .from('books')
      .insert(
        [
          { isbn: '902', shelf: null },
          { isbn: '903', title: 't' },
        ],
        { defaultToNull: false },
      )
      .select('isbn, shelf, title');
    expect(res.data).toEqual([
      { isbn: '902', shelf: null, title: null },
      { isbn: '903', shelf: 'new', title: 't' },
    ]);
  });

  test('Content-Range of an insert: */* without a count, */N with one', async () => {
    const body = JSON.stringify([{ isbn: '910' }, { isbn: '911' }]);
    const headers = { 'content-type': 'application/json' };
    const plain = await rest('books', { method: 'POST', body, headers });
    expect(plain.status).toBe(201);
    expect(plain.headers.get('content-range')).toBe('*/*');
    const counted = await rest('books', {
      method: 'POST',
      body: JSON.stringify([{ isbn: '912' }, { isbn: '913' }]),
      headers: { ...headers, prefer: 'count=exact' },
    });
    expect(counted.headers.get('content-range')).toBe('*/2');
  });
});

describe('reads', () => {
  test('rangeGte is &> (nxl) and rangeLte is &< (nxr)', async () => {
    const gte = await client.from('books').select('isbn').rangeGte('span', '[3,4)').order('isbn');
    expect(gte.data).toEqual([{ isbn: '222' }, { isbn: '333' }]);
    const lte = await client.from('books').select('isbn').rangeLte('span', '[3,6)').order('isbn');
    expect(lte.data).toEqual([{ isbn: '111' }]);
  });

  test('single() over several rows: PostgREST 12+ wording', async () => {
    const res = await client.from('books').select().in('isbn', ['111', '222']).single();
    expect(res.status).toBe(406);
    expect(res.error).toMatchObject({
      code: 'PGRST116',
      message: 'Cannot coerce the result to a single JSON object',
      details: 'The result contains 2 rows',
    });
  });

  test('CSV rows are PostgreSQL record text: quoted when needed, jsonb as its text, NULL empty', async () => {
    const res = await client
      .from('books')
      .select('isbn, title, span, meta')
      .in('isbn', ['111', '222', '333'])
      .order('isbn')
      .csv();
    expect(res.error).toBeNull();
    expect(res.data).toBe(
      [
        'isbn,title,span,meta',
        '111,"A tale, retold","[1,5)","{""a"": {""b"": 1}}"',
        '222,Plain,"[10,20)",',
        '333,"Say ""hi""","[3,12)","[1, ""x""]"',
      ].join('\n'),
    );
  });
});

describe('content negotiation', () => {
  test('a media type no table can be answered as gets 406 PGRST107; */* among others is fine', async () => {
    const xml = await rest('books?select=isbn', { headers: { accept: 'application/xml' } });
    expect(xml.status).toBe(406);
    expect(await xml.json()).toMatchObject({
      code: 'PGRST107',
      message: 'None of these media types are available: application/xml',
    });
    const browser = await rest('books?select=isbn&isbn=eq.111', {
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    expect(browser.status).toBe(200);
    expect(await browser.json()).toEqual([{ isbn: '111' }]);
  });
});

describe('EXPLAIN media type', () => {
  test('off by default: 406 PGRST107 naming the media types asked', async () => {
    const res = await rest('books', { headers: { accept: planAccept } });
    expect(res.status).toBe(406);
    expect(await res.json()).toMatchObject({
      code: 'PGRST107',
      message: 'None of these media types are available: application/vnd.pgrst.plan+json; for="application/json"',
    });
  });

  test('pgrst.db_plan_enabled on role authenticator turns it on: JSON and text plans, options', async () => {
    await dbSetting('db_plan_enabled', 'true');
    await eventually(async () => (await rest('books', { headers: { accept: planAccept } })).status === 200);
    const json = await client.from('books').select().explain({ format: 'json' });
    expect(json.error).toBeNull();
    expect((json.data as unknown as { Plan: { 'Node Type': string } }[])[0]?.Plan['Node Type']).toBe('Aggregate');
    const text = await client.from('books').select().explain();
    expect(text.data).toMatch(/^Aggregate {2}\(cost=/);
    const analyzed = await client.from('books').select().explain({ analyze: true, verbose: true, format: 'json' });
    const plan = (analyzed.data as unknown as { Plan: Record<string, unknown>; 'Execution Time': number }[])[0];
    expect(plan?.Plan['Actual Rows']).toBeTypeOf('number');
    expect(plan?.Plan.Output).toBeDefined();
    const raw = await rest('books', {
      headers: { accept: 'application/vnd.pgrst.plan+text; for="text/csv"; options=bogus|analyze' },
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/vnd.pgrst.plan+text; for="text/csv"; charset=utf-8');
    expect(await raw.text()).toMatch(/actual time=/);
    // A write's plan: without analyze nothing is written.
    const before = (await client.from('books').select('id')).data?.length;
    const write = await client.from('books').insert({ isbn: '990' }).select().explain({ format: 'json' });
    expect(write.error).toBeNull();
    expect((await client.from('books').select('id')).data?.length).toBe(before);
    const call = await client.rpc('whoami').explain();
    expect(call.data).toMatch(/cost=/);
    await dbSetting('db_plan_enabled', null);
    await eventually(async () => (await rest('books', { headers: { accept: planAccept } })).status === 406);
  });
});

describe('in-database db_tx_end and db_max_rows', () => {
  test('db_tx_end=commit drops Prefer: tx=rollback (the write stays, nothing applied)', async () => {
    await dbSetting('db_tx_end', 'commit');
    const probe = async (isbn: string) => {
      const res = await rest('books', {
        method: 'POST',
        body: JSON.stringify({ isbn }),
        headers: { 'content-type': 'application/json', prefer: 'tx=rollback' },
      });
      return { res, kept: ((await client.from('books').select('isbn').eq('isbn', isbn)).data ?? []).length };
    };
    let n = 0;
    await eventually(async () => (await probe(`c${n++}`)).kept === 1);
    const { res, kept } = await probe('commit-1');
    expect(res.status).toBe(201);
    expect(kept).toBe(1);
    expect(res.headers.get('preference-applied')).toBeNull();
  });

  test('db_tx_end=rollback rolls every write back; rollback-allow-override lets tx=commit keep one', async () => {
    await dbSetting('db_tx_end', 'rollback');
    const insert = (isbn: string, prefer?: string) =>
      rest('books', {
        method: 'POST',
        body: JSON.stringify({ isbn }),
        headers: { 'content-type': 'application/json', ...(prefer && { prefer }) },
      });
    const kept = async (isbn: string) =>
      ((await client.from('books').select('isbn').eq('isbn', isbn)).data ?? []).length;
    let n = 0;
    await eventually(async () => {
      const isbn = `r${n++}`;
      return (await insert(isbn)).status === 201 && (await kept(isbn)) === 0;
    });
    await dbSetting('db_tx_end', 'rollback-allow-override');
    await eventually(async () => {
      const isbn = `o${n++}`;
      const res = await insert(isbn, 'tx=commit');
      return (await kept(isbn)) === 1 && res.headers.get('preference-applied') === 'tx=commit';
    });
    await dbSetting('db_tx_end', null);
  });

  test('db_aggregates_enabled turns aggregates on over REST_DB_AGGREGATES_ENABLED=false', async () => {
    const refused = await client.from('books').select('count()');
    expect(refused.error?.code).toBe('PGRST123');
    await dbSetting('db_aggregates_enabled', 'true');
    await eventually(async () => (await client.from('books').select('count()')).error === null);
    const counted = await client.from('books').select('shelf, count()').eq('isbn', '111');
    expect(counted.data).toEqual([{ shelf: 'new', count: 1 }]);
    await dbSetting('db_aggregates_enabled', null);
    await eventually(async () => (await client.from('books').select('count()')).error?.code === 'PGRST123');
  });

  test('db_max_rows caps responses; a value that does not parse is ignored', async () => {
    await dbSetting('db_max_rows', '2');
    await eventually(async () => ((await client.from('books').select('id')).data ?? []).length === 2);
    await dbSetting('db_max_rows', 'lots');
    await eventually(async () => ((await client.from('books').select('id')).data ?? []).length > 2);
    await dbSetting('db_max_rows', null);
  });
});

describe('request.* settings', () => {
  test('functions read request.method, request.path, request.headers and request.cookies', async () => {
    const res = await rest('rpc/whoami', {
      method: 'POST',
      body: '{}',
      headers: {
        'content-type': 'application/json',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        cookie: 'theme=dark; session="abc"',
      },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      method: 'POST',
      path: '/rpc/whoami',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      session: 'abc',
    });
    const get = await rest('rpc/whoami');
    expect(await get.json()).toMatchObject({ method: 'GET', path: '/rpc/whoami', traceparent: null, session: null });
  });

  test('a policy may decide by a request header', async () => {
    const red = await rest('notes?select=id', { headers: { 'x-note': 'red' } });
    expect(await red.json()).toEqual([{ id: 1 }]);
    const none = await rest('notes?select=id');
    expect(await none.json()).toEqual([]);
    // A header value is data: quotes and SQL in it are compared, never run.
    const sly = await rest('notes?select=id', { headers: { 'x-note': "red' or '1'='1" } });
    expect(await sly.json()).toEqual([]);
  });
});
