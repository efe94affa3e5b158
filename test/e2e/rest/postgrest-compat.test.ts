import type { PostgrestError, SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * PostgREST behaviours supabase-js code relies on beyond plain reads and writes (issue 13), on a
 * small shop: products, each with at most one detail row, and functions over them.
 */
const SHOP = `
create table public.products (id int primary key, name text not null, price int, note text);
insert into public.products select g, 'product ' || g, g * 10, case when g % 2 = 0 then 'even' end from generate_series(1, 6) g;
create table public.details (product_id int primary key references public.products (id), weight int);
insert into public.details values (1, 100), (2, null);
create table public.labels (id int primary key, product_id int unique references public.products (id), text text);
insert into public.labels values (1, 1, 'new');
grant select, insert, update, delete on public.products, public.details, public.labels to anon;

create function public.cheap(below int) returns setof public.products language sql stable as $$
  select * from public.products where price < below order by id
$$;
create function public.product_count() returns int language sql stable as $$ select count(*)::int from public.products $$;
create function public.reprice(by_amount int) returns setof public.products language sql as $$
  update public.products set price = price + by_amount returning *
$$;
create function public.reprice_one(by_amount int) returns int language sql as $$
  update public.products set price = price + by_amount where id = 1 returning price
$$;
create function public.price_of(id int) returns int language sql stable as $$ select price from public.products p where p.id = price_of.id $$;
create function public.price_of(name text) returns int language sql stable as $$ select price from public.products p where p.name = price_of.name $$;
create function public.label(int) returns text language sql stable as $$ select 'int' $$;
create function public.labels(text) returns text language sql stable as $$ select 'text' $$;
-- Created text first: the error still lists integer first, as PostgREST orders overloads.
create function public.pick(a text default 'x') returns text language sql stable as $$ select 'text' $$;
create function public.pick(a int default 1) returns text language sql stable as $$ select 'int' $$;
`;

const prices = async () =>
  ((await client.from('products').select('price').order('id')).data as { price: number }[]).map((r) => r.price);

let server: TestServer;
let client: SupabaseClient;

beforeAll(async () => {
  server = await startTestServer({ migrations: { '20240101000000_shop.sql': SHOP } });
  client = supabaseClient(server);
});
afterAll(() => server.stop());

describe('Prefer: count on calls, updates and deletes', () => {
  test('a call answers its count, before its range, with 206 for a part', async () => {
    const all = await client.rpc('cheap', { below: 45 }, { count: 'exact' });
    expect(all.error).toBeNull();
    expect(all.count).toBe(4);
    expect(all.status).toBe(200);
    const part = await client.rpc('cheap', { below: 45 }, { count: 'exact' }).range(1, 2);
    expect((part.data as { id: number }[]).map((r) => r.id)).toEqual([2, 3]);
    expect(part.count).toBe(4);
    expect(part.status).toBe(206);
    const filtered = await client.rpc('cheap', { below: 45 }, { count: 'estimated' }).gt('id', 2);
    expect(filtered.count).toBe(2);
    const scalar = await client.rpc('product_count', {}, { count: 'exact' });
    expect(scalar.data).toBe(6);
    expect(scalar.count).toBe(1);
    const head = await client.rpc('cheap', { below: 45 }, { head: true, count: 'exact' });
    expect(head.count).toBe(4);
  });

  test('an update and a delete answer the rows they touched', async () => {
    const updated = await client.from('products').update({ name: 'renamed' }, { count: 'exact' }).lt('id', 4);
    expect(updated.error).toBeNull();
    expect(updated.count).toBe(3);
    const none = await client.from('products').update({ name: 'renamed' }, { count: 'exact' }).eq('id', 99);
    expect(none.count).toBe(0);
    await client.from('products').insert({ id: 100, name: 'gone' });
    const deleted = await client.from('products').delete({ count: 'exact' }).eq('id', 100);
    expect(deleted.error).toBeNull();
    expect(deleted.count).toBe(1);
  });

  test('the raw headers are the ones PostgREST sends', async () => {
    const headers = { apikey: server.anonKey, 'content-type': 'application/json', prefer: 'count=exact' };
    const patch = await fetch(`${server.url}/rest/v1/products?id=lt.3`, {
      method: 'PATCH',
      headers,
      body: JSON.stringify({ name: 'renamed again' }),
    });
    expect(patch.headers.get('content-range')).toBe('0-1/2');
    expect(patch.headers.get('preference-applied')).toContain('count=exact');
    const call = await fetch(`${server.url}/rest/v1/rpc/cheap`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ below: 25 }),
    });
    expect(call.headers.get('content-range')).toBe('0-1/2');
  });
});

/**
 * `.maxAffected()` is typed for PostgREST 13 clients only; an untyped client is a PostgREST 12 one,
 * though the header it sends is the same.
 */
const maxAffected = (builder: unknown, rows: number) =>
  (
    builder as {
      maxAffected(rows: number): PromiseLike<{ status: number; error: PostgrestError | null; data: unknown[] | null }>;
    }
  ).maxAffected(rows);

describe('Prefer: max-affected on calls', () => {
  test('with handling=strict, a call answering more rows than allowed is rolled back', async () => {
    const before = await prices();
    const over = await maxAffected(client.rpc('reprice', { by_amount: 1 }), 2);
    expect(over.status).toBe(400);
    expect(over.error?.code).toBe('PGRST124');
    expect(over.error?.details).toBe('The query affects 6 rows');
    expect(await prices()).toEqual(before);
    const within = await maxAffected(client.rpc('reprice', { by_amount: 0 }), 6);
    expect(within.error).toBeNull();
    expect(within.data).toHaveLength(6);
  });

  test('a function returning one value cannot be checked: 400 PGRST128, nothing runs', async () => {
    const before = await prices();
    const single = await maxAffected(client.rpc('reprice_one', { by_amount: 5 }), 1);
    expect(single.status).toBe(400);
    expect(single.error?.code).toBe('PGRST128');
    expect(await prices()).toEqual(before);
  });
});

describe('one-to-one relationships', () => {
  test('embedded either way as an object, or null where there is none', async () => {
    const { data, error } = await client
      .from('products')
      .select('id, details(weight), labels(text)')
      .in('id', [1, 2, 3])
      .order('id');
    expect(error).toBeNull();
    expect(data).toEqual([
      { id: 1, details: { weight: 100 }, labels: { text: 'new' } },
      { id: 2, details: { weight: null }, labels: null },
      { id: 3, details: null, labels: null },
    ]);
    const back = await client.from('labels').select('text, products(id)').single();
    expect(back.data).toEqual({ text: 'new', products: { id: 1 } });
  });
});

describe('nulls=stripped', () => {
  test('rows, one object, written rows and call results leave their null fields out', async () => {
    const rows = await client
      .from('products')
      .select('id, note, details(weight)')
      .in('id', [2, 3])
      .order('id')
      .stripNulls();
    expect(rows.error).toBeNull();
    expect(rows.data).toEqual([{ id: 2, note: 'even', details: {} }, { id: 3 }]);
    const one = await client.from('products').select('id, note').eq('id', 3).single().stripNulls();
    expect(one.data).toEqual({ id: 3 });
    const written = await client.from('products').insert({ id: 200, name: 'new' }).select('id, price').stripNulls();
    expect(written.data).toEqual([{ id: 200 }]);
    await client.from('products').delete().eq('id', 200);
    const called = await client.rpc('cheap', { below: 25 }).select('id, note').stripNulls();
    expect(called.data).toEqual([{ id: 1 }, { id: 2, note: 'even' }]);
  });

  test('the media types are labelled as PostgREST labels them; application/json keeps nulls', async () => {
    const get = (accept: string) =>
      fetch(`${server.url}/rest/v1/products?select=id,note&id=eq.3`, { headers: { apikey: server.anonKey, accept } });
    const array = await get('application/vnd.pgrst.array+json;nulls=stripped');
    expect(array.headers.get('content-type')).toBe('application/vnd.pgrst.array+json;nulls=stripped; charset=utf-8');
    expect(await array.json()).toEqual([{ id: 3 }]);
    const object = await get('application/vnd.pgrst.object+json;nulls=stripped');
    expect(object.headers.get('content-type')).toBe('application/vnd.pgrst.object+json;nulls=stripped; charset=utf-8');
    expect(await object.json()).toEqual({ id: 3 });
    expect(await (await get('application/json;nulls=stripped')).json()).toEqual([{ id: 3, note: null }]);
  });
});

describe('function overloads', () => {
  test('the argument names choose the overload', async () => {
    const byId = await client.rpc('price_of', { id: 2 });
    expect(byId.error).toBeNull();
    expect(byId.data).toBe(20);
    expect((await client.rpc('price_of', { name: 'product 5' })).data).toBe(50);
  });

  test('no overload fits: 404 PGRST202, with the nearest parameter list as a hint', async () => {
    const { status, error } = await client.rpc('price_of', { ids: 2 });
    expect(status).toBe(404);
    expect(error).toEqual({
      code: 'PGRST202',
      message: 'Could not find the function public.price_of(ids) in the schema cache',
      details:
        'Searched for the function public.price_of with parameter ids or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      hint: 'Perhaps you meant to call the function public.price_of(id)',
    });
  });

  test('a function no request could call (an unnamed integer) is not there; a close name is suggested', async () => {
    const { status, error } = await client.rpc('label', { '': 1 });
    expect(status).toBe(404);
    expect(error?.message).toBe('Could not find the function public.label() in the schema cache');
    expect(error?.hint).toBe('Perhaps you meant to call the function public.labels');
    expect((await client.rpc('labels', { '': 'x' })).data).toBe('text');
  });

  test("two that fit: 300 PGRST203, the candidates in PostgREST's order", async () => {
    const { status, error } = await client.rpc('pick', { a: 1 });
    expect(status).toBe(300);
    expect(error).toEqual({
      code: 'PGRST203',
      message:
        'Could not choose the best candidate function between: public.pick(a => integer), public.pick(a => text)',
      details: null,
      hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
    });
  });
});
