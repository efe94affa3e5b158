import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

/**
 * Relationships PostgREST finds beyond a table's own foreign keys (issue 13): through views,
 * computed ones (functions of a row), computed fields, self-references, and on RPC results. A small
 * library: authors, their books, a shelf of books that points at a parent shelf.
 */
const LIBRARY = `
create table public.authors (id int primary key, name text not null);
insert into public.authors values (1, 'Le Guin'), (2, 'Borges'), (3, 'Nobody');
create table public.books (id int primary key, title text not null, author_id int references public.authors (id), pages int);
insert into public.books values (1, 'The Dispossessed', 1, 387), (2, 'Ficciones', 2, 174), (3, 'Earthsea', 1, 183);
create table public.shelves (id int primary key, label text, parent_id int references public.shelves (id));
insert into public.shelves values (1, 'root', null), (2, 'fiction', 1), (3, 'poetry', 1), (4, 'sf', 2);

-- A view renaming the key column: the foreign key follows the column, under its new name.
create view public.long_books as select id as book_id, title, author_id as writer from public.books where pages > 180;
create view public.famous_authors as select id, name from public.authors where id < 3;

create function public.title_initial(public.books) returns text language sql stable as $$ select left($1.title, 1) $$;
create function public.short_books(a public.authors) returns setof public.books language sql stable as $$
  select * from public.books where author_id = a.id and pages < 200 order by id
$$;
create function public.first_book(a public.authors) returns setof public.books language sql stable rows 1 as $$
  select * from public.books where author_id = a.id order by id limit 1
$$;
create function public.longest(a public.authors) returns public.books language sql stable as $$
  select * from public.books where author_id = a.id order by pages desc limit 1
$$;
create function public.author_of(b public.books) returns public.authors language sql stable as $$
  select * from public.authors where id = b.author_id
$$;
-- A computed relationship may live in a schema that is not exposed, as in PostgREST.
create schema shelf_logic;
create function shelf_logic.same_author(b public.books) returns setof public.books language sql stable as $$
  select * from public.books where author_id = b.author_id and id <> b.id order by id
$$;
grant usage on schema shelf_logic to anon;
create function public.books_by(author int) returns setof public.books language sql stable as $$
  select * from public.books where author_id = author order by id
$$;
-- A partitioned table's key is copied onto each partition; the copies are no relationships.
create table public.loans (id int, author_id int references public.authors (id), on_day date, primary key (id, on_day))
  partition by range (on_day);
create table public.loans_2024 partition of public.loans for values from ('2024-01-01') to ('2025-01-01');
insert into public.loans values (1, 2, '2024-03-01');
grant select on all tables in schema public to anon;
`;

let server: TestServer;
let client: SupabaseClient;

beforeAll(async () => {
  server = await startTestServer({ migrations: { '20240101000000_library.sql': LIBRARY } });
  client = supabaseClient(server);
});
afterAll(() => server.stop());

describe('computed fields', () => {
  test('a function of the row is selected like a column, and not by *', async () => {
    const { data, error } = await client.from('books').select('id, title_initial').order('id');
    expect(error).toBeNull();
    expect(data).toEqual([
      { id: 1, title_initial: 'T' },
      { id: 2, title_initial: 'F' },
      { id: 3, title_initial: 'E' },
    ]);
    const star = await client.from('books').select('*').eq('id', 1).single();
    expect(Object.keys(star.data as object)).not.toContain('title_initial');
  });

  test('it can be aliased, filtered and ordered by', async () => {
    const { data, error } = await client
      .from('books')
      .select('id, initial:title_initial')
      .eq('title_initial', 'E')
      .order('title_initial');
    expect(error).toBeNull();
    expect(data).toEqual([{ id: 3, initial: 'E' }]);
  });

  test('inside an embed and on a call result', async () => {
    const embedded = await client.from('authors').select('name, books(title_initial)').eq('id', 2).single();
    expect(embedded.data).toEqual({ name: 'Borges', books: [{ title_initial: 'F' }] });
    const called = await client.rpc('books_by', { author: 1 }).select('id, title_initial');
    expect(called.error).toBeNull();
    expect(called.data).toEqual([
      { id: 1, title_initial: 'T' },
      { id: 3, title_initial: 'E' },
    ]);
  });

  test('a name that is neither a column nor a function of the row is 42703', async () => {
    const { error, status } = await client.from('books').select('id, no_such_thing');
    expect(status).toBe(400);
    expect(error?.code).toBe('42703');
  });
});

describe('computed relationships', () => {
  test('a set-returning function of the row embeds as an array', async () => {
    const { data, error } = await client.from('authors').select('name, short:short_books(title)').order('id');
    expect(error).toBeNull();
    expect(data).toEqual([
      { name: 'Le Guin', short: [{ title: 'Earthsea' }] },
      { name: 'Borges', short: [{ title: 'Ficciones' }] },
      { name: 'Nobody', short: [] },
    ]);
  });

  // A function returning one row (not a set) yields a row of nulls when it finds nothing, and
  // PostgREST answers it as such; `rows 1` on a set answers null.
  test('rows 1, or a function returning one row, embeds as an object', async () => {
    const { data, error } = await client.from('authors').select('name, first_book(title), longest(title)').order('id');
    expect(error).toBeNull();
    expect(data).toEqual([
      { name: 'Le Guin', first_book: { title: 'The Dispossessed' }, longest: { title: 'The Dispossessed' } },
      { name: 'Borges', first_book: { title: 'Ficciones' }, longest: { title: 'Ficciones' } },
      { name: 'Nobody', first_book: null, longest: { title: null } },
    ]);
  });

  test('with !inner it filters the parents, and it nests further embeds', async () => {
    const { data, error } = await client
      .from('authors')
      .select('name, first_book!inner(title, authors(name))')
      .order('id');
    expect(error).toBeNull();
    expect(data).toEqual([
      { name: 'Le Guin', first_book: { title: 'The Dispossessed', authors: { name: 'Le Guin' } } },
      { name: 'Borges', first_book: { title: 'Ficciones', authors: { name: 'Borges' } } },
    ]);
  });

  test('a function of a schema that is not exposed embeds too', async () => {
    const { data, error } = await client.from('books').select('title, same_author(title)').eq('id', 1).single();
    expect(error).toBeNull();
    expect(data).toEqual({ title: 'The Dispossessed', same_author: [{ title: 'Earthsea' }] });
  });

  test('a function that does not take the row is no relationship: PGRST200', async () => {
    const { error, status } = await client.from('authors').select('name, books_by(*)');
    expect(status).toBe(400);
    expect(error?.code).toBe('PGRST200');
    expect(error?.details).toBe(
      "Searched for a foreign key relationship between 'authors' and 'books_by' in the schema 'public', but no matches were found.",
    );
  });
});

describe('relationships through views', () => {
  test('a view carries its base table foreign key, under the view column name', async () => {
    const { data, error } = await client.from('long_books').select('title, writer, authors(name)').order('book_id');
    expect(error).toBeNull();
    expect(data).toEqual([
      { title: 'The Dispossessed', writer: 1, authors: { name: 'Le Guin' } },
      { title: 'Earthsea', writer: 1, authors: { name: 'Le Guin' } },
    ]);
  });

  test('a table embeds a view over the referenced table, and a view embeds a view', async () => {
    const toView = await client.from('books').select('title, famous_authors(name)').order('id');
    expect(toView.error).toBeNull();
    expect(toView.data).toEqual([
      { title: 'The Dispossessed', famous_authors: { name: 'Le Guin' } },
      { title: 'Ficciones', famous_authors: { name: 'Borges' } },
      { title: 'Earthsea', famous_authors: { name: 'Le Guin' } },
    ]);
    const both = await client.from('famous_authors').select('name, long_books(title)').order('id');
    expect(both.error).toBeNull();
    expect(both.data).toEqual([
      { name: 'Le Guin', long_books: [{ title: 'The Dispossessed' }, { title: 'Earthsea' }] },
      { name: 'Borges', long_books: [] },
    ]);
  });

  test("an RPC's rows embed their table's relationships, computed ones too", async () => {
    const { data, error } = await client
      .rpc('books_by', { author: 2 })
      .select('title, authors(name), author_of(short_books(title))');
    expect(error).toBeNull();
    expect(data).toEqual([
      { title: 'Ficciones', authors: { name: 'Borges' }, author_of: { short_books: [{ title: 'Ficciones' }] } },
    ]);
  });
});

describe('self-references and ambiguity', () => {
  test('the table name reads the children, the key column the parent', async () => {
    const children = await client.from('shelves').select('label, shelves(label)').eq('id', 1).single();
    expect(children.data).toEqual({ label: 'root', shelves: [{ label: 'fiction' }, { label: 'poetry' }] });
    const parent = await client.from('shelves').select('label, parent_id(label)').eq('id', 4).single();
    expect(parent.data).toEqual({ label: 'sf', parent_id: { label: 'fiction' } });
    const hinted = await client.from('shelves').select('label, shelves!parent_id(label)').eq('id', 2).single();
    expect(hinted.data).toEqual({ label: 'fiction', shelves: [{ label: 'sf' }] });
  });

  test('the key name is no hint on a self-reference: PGRST200', async () => {
    const { error, status } = await client.from('shelves').select('label, shelves!shelves_parent_id_fkey(label)');
    expect(status).toBe(400);
    expect(error?.code).toBe('PGRST200');
  });

  test('a constraint name reaches the many side as well', async () => {
    const { data, error } = await client
      .from('authors')
      .select('name, books_author_id_fkey(title)')
      .eq('id', 2)
      .single();
    expect(error).toBeNull();
    expect(data).toEqual({ name: 'Borges', books_author_id_fkey: [{ title: 'Ficciones' }] });
  });

  test("a partitioned table's key is one relationship, not one per partition", async () => {
    const { data, error } = await client.from('authors').select('name, loans_author_id_fkey(id)').eq('id', 2).single();
    expect(error).toBeNull();
    expect(data).toEqual({ name: 'Borges', loans_author_id_fkey: [{ id: 1 }] });
  });

  test('an embed that selects nothing is left out of the body', async () => {
    const { data, error } = await client.from('books').select('title, authors()').eq('id', 2).single();
    expect(error).toBeNull();
    expect(data).toEqual({ title: 'Ficciones' });
    const inner = await client.from('authors').select('name, books!inner()').order('id');
    expect(inner.data).toEqual([{ name: 'Le Guin' }, { name: 'Borges' }]);
  });

  test('two embeds under one name are 400 42712, as PostgreSQL answers PostgREST', async () => {
    const { error, status } = await client.from('books').select('authors(name), authors!author_id(id)');
    expect(status).toBe(400);
    expect(error?.code).toBe('42712');
    expect(error?.message).toBe('table name "books_authors_1" specified more than once');
  });
});
