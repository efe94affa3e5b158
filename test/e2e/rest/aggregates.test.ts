import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * Aggregates in select= and spreads of to-many relationships (issue 13), on a small shop:
 * customers, each with at most one profile, their orders, and a tag list through a junction.
 */
const SHOP = `
create table public.customers (id int primary key, name text not null, tier text not null);
insert into public.customers values (1, 'ada', 'gold'), (2, 'bob', 'gold'), (3, 'cy', 'basic');
create table public.profiles (customer_id int primary key references public.customers (id), city text);
insert into public.profiles values (1, 'Lyon'), (2, 'Oslo');
create table public.orders (id int primary key, customer_id int not null references public.customers (id),
  amount int not null, category text not null, data jsonb not null default '{}');
insert into public.orders values
  (1, 1, 10, 'book', '{"n": 1}'), (2, 1, 20, 'book', '{"n": 2}'), (3, 1, 5, 'food', '{"n": 3}'),
  (4, 2, 40, 'food', '{"n": 4}'), (5, 2, 1, 'toy', '{"n": 5}');
create table public.tags (id int primary key, label text not null);
insert into public.tags values (1, 'vip'), (2, 'new');
create table public.customer_tags (customer_id int references public.customers (id), tag_id int references public.tags (id),
  primary key (customer_id, tag_id));
insert into public.customer_tags values (1, 1), (1, 2), (2, 2);
grant select on public.customers, public.profiles, public.orders, public.tags, public.customer_tags to anon;
create function public.big_orders(above int) returns setof public.orders language sql stable as $$
  select * from public.orders where amount > above
$$;
`;

let server: TestServer;
let client: SupabaseClient;

beforeAll(async () => {
  server = await startTestServer({
    migrations: { '20240101000000_shop.sql': SHOP },
    env: { REST_DB_AGGREGATES_ENABLED: 'true' },
  });
  client = supabaseClient(server);
});
afterAll(() => server.stop());

describe('aggregate functions', () => {
  test('count() alone counts the rows the filters keep', async () => {
    const { data, error } = await client.from('orders').select('count()').eq('category', 'book');
    expect(error).toBeNull();
    expect(data).toEqual([{ count: 2 }]);
  });

  test('the other selected columns are the groups', async () => {
    const { data, error } = await client
      .from('orders')
      .select('category, total:amount.sum(), amount.max(), amount.min(), count()')
      .order('category');
    expect(error).toBeNull();
    expect(data).toEqual([
      { category: 'book', total: 30, max: 20, min: 10, count: 2 },
      { category: 'food', total: 45, max: 40, min: 5, count: 2 },
      { category: 'toy', total: 1, max: 1, min: 1, count: 1 },
    ]);
  });

  test('casts apply to the argument before the dot and to the result after it', async () => {
    const { data, error } = await client
      .from('orders')
      .select('avg:amount.avg()::int, n:data->>n::int.sum(), longest:category::text.max(), c:count()::text')
      .single();
    expect(error).toBeNull();
    expect(data).toEqual({ avg: 15, n: 15, longest: 'toy', c: '5' });
  });

  test('aggregates in an embed: per parent row, the bare count too', async () => {
    const { data, error } = await client
      .from('customers')
      .select('name, orders(count), spent:orders(amount.sum()), by_category:orders(category, count())')
      .order('id')
      .order('category', { referencedTable: 'by_category' });
    expect(error).toBeNull();
    expect(data).toEqual([
      {
        name: 'ada',
        orders: [{ count: 3 }],
        spent: [{ sum: 35 }],
        by_category: [
          { category: 'book', count: 2 },
          { category: 'food', count: 1 },
        ],
      },
      {
        name: 'bob',
        orders: [{ count: 2 }],
        spent: [{ sum: 41 }],
        by_category: [
          { category: 'food', count: 1 },
          { category: 'toy', count: 1 },
        ],
      },
      { name: 'cy', orders: [{ count: 0 }], spent: [{ sum: null }], by_category: [] },
    ]);
  });

  test('an embed beside an aggregate is one of the groups', async () => {
    const { data, error } = await client.from('customers').select('tier, count(), profiles(city)').order('tier');
    expect(error).toBeNull();
    expect(data).toEqual(
      expect.arrayContaining([
        { tier: 'basic', count: 1, profiles: null },
        { tier: 'gold', count: 1, profiles: { city: 'Lyon' } },
        { tier: 'gold', count: 1, profiles: { city: 'Oslo' } },
      ]),
    );
    expect(data).toHaveLength(3);
  });

  test('on the rows a function returns', async () => {
    const { data, error } = await client
      .rpc('big_orders', { above: 5 })
      .select('customer_id, amount.sum()')
      .order('customer_id');
    expect(error).toBeNull();
    expect(data).toEqual([
      { customer_id: 1, sum: 30 },
      { customer_id: 2, sum: 40 },
    ]);
  });
});

describe('spreads', () => {
  test('a to-one spread hands its aggregates to the grouping level', async () => {
    const { data, error } = await client
      .from('orders')
      .select('category, ...customers(tier, customers:id.count())')
      .order('category')
      .lt('id', 4);
    expect(error).toBeNull();
    expect(data).toEqual([
      { category: 'book', tier: 'gold', customers: 2 },
      { category: 'food', tier: 'gold', customers: 1 },
    ]);
  });

  test('a to-many spread gives each column as an array on the parent row', async () => {
    const { data, error } = await client
      .from('customers')
      .select('name, ...orders(amount, category), ...customer_tags(...tags(label))')
      .order('id')
      .order('id', { referencedTable: 'orders' });
    expect(error).toBeNull();
    expect(data).toEqual([
      { name: 'ada', amount: [10, 20, 5], category: ['book', 'book', 'food'], label: ['vip', 'new'] },
      { name: 'bob', amount: [40, 1], category: ['food', 'toy'], label: ['new'] },
      { name: 'cy', amount: [], category: [], label: [] },
    ]);
  });

  test('a to-many spread through a junction table', async () => {
    const { data, error } = await client.from('customers').select('id, ...tags(label)').eq('id', 2).single();
    expect(error).toBeNull();
    expect(data).toEqual({ id: 2, label: ['new'] });
  });
});

describe('bad input', () => {
  test.each([
    ['an unknown aggregate function', 'orders', 'amount.median()', 400, 'PGRST100'],
    ['an aggregate of a missing column', 'orders', 'nope.sum()', 400, '42703'],
    ['a bare sum in an embed (no such column)', 'orders', 'customers(sum)', 400, '42703'],
    ['a cast that is not one type name', 'orders', 'amount.sum()::int;select', 400, 'PGRST100'],
    // PostgreSQL has no sum(text): undefined_function, which PostgREST answers 404.
    ['a sum of a text column', 'orders', 'category.sum()', 404, '42883'],
    ['an aggregate in a to-many spread', 'customers', 'id,...orders(count())', 400, 'PGRST127'],
    [
      'an alias that tries to end the statement',
      'orders',
      'x");drop table public.orders;--:amount.sum()',
      400,
      'PGRST100',
    ],
  ])('%s (%s?select=%s) answers %i %s', async (_name, table, select, status, code) => {
    const { error, status: got } = await client.from(table).select(select);
    expect(got).toBe(status);
    expect(error?.code).toBe(code);
  });

  test('an embedded table is named as PostgREST names it in the error', async () => {
    const { error } = await client.from('customers').select('name, orders(sum)');
    expect(error?.message).toBe('column orders_1.sum does not exist');
  });

  test('a quoted alias is only a key, whatever it holds', async () => {
    const { data, error } = await client.from('orders').select('"a b; --":amount.sum()').single();
    expect(error).toBeNull();
    expect(data).toEqual({ 'a b; --': 76 });
    const { count } = await client.from('orders').select('*', { count: 'exact', head: true });
    expect(count).toBe(5);
  });
});

describe('aggregates disabled (the default)', () => {
  let off: TestServer;
  beforeAll(async () => {
    off = await startTestServer({ migrations: { '20240101000000_shop.sql': SHOP } });
  });
  afterAll(() => off.stop());

  test.each(['count()', 'amount.sum()', 'id,customers(id.count())'])('%s answers 400 PGRST123', async (select) => {
    const { error, status } = await supabaseClient(off).from('orders').select(select);
    expect(status).toBe(400);
    expect(error?.code).toBe('PGRST123');
    expect(error?.message).toBe('Use of aggregate functions is not allowed');
  });

  test('a bare count in an embed still counts, as PostgreSQL reads it in PostgREST', async () => {
    const { data, error } = await supabaseClient(off).from('customers').select('id, orders(count)').eq('id', 1);
    expect(error).toBeNull();
    expect(data).toEqual([{ id: 1, orders: [{ count: 3 }] }]);
  });

  test('a function result with an aggregate answers 400 PGRST123', async () => {
    const { error } = await supabaseClient(off).rpc('big_orders', { above: 1 }).select('amount.sum()');
    expect(error?.code).toBe('PGRST123');
  });
});
