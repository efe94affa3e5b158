/**
 * A schema with what generated types must describe (every common column type, an enum, a composite
 * type, views, functions of each return shape, foreign keys, a table anon may not see), and the
 * typed supabase-js programs that must (and must not) compile against the types generated for it.
 */

export const TYPES_SCHEMA = `
create type public.mood as enum ('happy', 'sad', 'so-so');
create type public.address as (street text, zip int4);
create table public.authors (
  id bigint generated always as identity primary key,
  name text not null,
  bio text,
  mood public.mood default 'happy',
  tags text[] not null default '{}',
  home public.address,
  created_at timestamptz not null default now()
);
comment on table public.authors is E'People who write\\n\\nEach has posts.';
comment on column public.authors.name is 'Display name';
create table public.posts (
  id serial primary key,
  author_id bigint not null references public.authors (id),
  title varchar(120) not null,
  body jsonb,
  meta json,
  score numeric(6, 2) default 0,
  ratio float8,
  small int2,
  flags boolean[],
  published boolean not null default false,
  uid uuid default gen_random_uuid(),
  day date,
  at_time time,
  raw bytea,
  status text not null default 'draft'
);
create table public.profiles (
  author_id bigint primary key references public.authors (id),
  website text
);
create view public.post_titles as
  select p.id, p.title, a.name as author from public.posts p join public.authors a on a.id = p.author_id;
create view public.drafts as select id, title, status from public.posts where not published;
-- A view keeps its table's keys: embedding from it works as from the table.
create view public.post_authors as select p.id, p.author_id as writer, p.title from public.posts p;
create materialized view public.post_counts as select author_id, count(*) as n from public.posts group by author_id;
create function public.add(a int4, b int4 default 1) returns int4 language sql immutable as 'select a + b';
comment on function public.add(int4, int4) is 'Adds two numbers';
create function public.posts_by(author bigint) returns setof public.posts
  language sql stable as 'select * from public.posts where author_id = author';
create function public.top_author() returns public.authors language sql stable as 'select * from public.authors limit 1';
create function public.stats() returns table (total bigint, avg_score numeric)
  language sql stable as 'select count(*), avg(score) from public.posts';
create function public.shout(text) returns text language sql immutable as 'select upper($1)';
create function public.touch(note text) returns void language sql volatile as 'select null';
create function public.moods() returns setof public.mood language sql stable as $$select unnest(enum_range(null::public.mood))$$;
create table public.secrets (id int primary key, value text);
revoke all on public.secrets from anon, authenticated;
grant select on public.secrets to service_role;
`;

/** Must compile: reads with an embed, writes, calls, the helper types. */
export const TYPED_PROGRAM = `
import { createClient } from '@supabase/supabase-js';
import type { CompositeTypes, Database, Enums, Tables, TablesInsert, TablesUpdate } from './database.types.js';
import { Constants } from './database.types.js';

const supabase = createClient<Database>('http://127.0.0.1:54321', 'anon-key');

export async function program(): Promise<string[]> {
  const out: string[] = [];
  const { data: posts } = await supabase.from('posts').select('id, title, score, authors(name, mood)').eq('published', true);
  for (const post of posts ?? []) {
    const title: string = post.title;
    const score: number | null = post.score;
    const author: string | undefined = post.authors?.name;
    const mood: Enums<'mood'> | null | undefined = post.authors?.mood;
    out.push(title, String(score), author ?? '', mood ?? '');
  }
  const { data: author } = await supabase
    .from('authors')
    .insert({ name: 'Ann', mood: 'so-so', tags: ['a'], home: { street: 'Main', zip: 1 } })
    .select()
    .single();
  const id: number | undefined = author?.id;
  const created: string | undefined = author?.created_at;
  out.push(String(id), created ?? '');
  await supabase.from('posts').insert({ author_id: 1, title: 'Hello', body: { nested: [1, 'two', null] } });
  await supabase.from('posts').update({ score: 2.5, published: true }).eq('id', 1);
  await supabase.from('drafts').update({ title: 'renamed' }).eq('id', 1);
  const { data: titles } = await supabase.from('post_titles').select('title, author');
  const { data: viaView } = await supabase.from('post_authors').select('title, authors(name)');
  const viewAuthor: string | undefined = viaView?.[0]?.authors?.name;
  out.push(viewAuthor ?? '');
  out.push(...(titles ?? []).map((t) => t.title ?? ''));
  const { data: sum } = await supabase.rpc('add', { a: 1 });
  const total: number | null = sum;
  const { data: mine } = await supabase.rpc('posts_by', { author: 1 }).select('id, title');
  const firstTitle: string | undefined = mine?.[0]?.title;
  const { data: best } = await supabase.rpc('top_author');
  const bestName: string | undefined = best?.name;
  const { data: stats } = await supabase.rpc('stats');
  const count: number | undefined = stats?.[0]?.total;
  const { data: loud } = await supabase.rpc('shout', { '': 'hi' });
  out.push(String(total), firstTitle ?? '', bestName ?? '', String(count), loud ?? '');
  const row: Tables<'authors'> = {
    id: 1, name: 'A', bio: null, mood: 'happy', tags: [], home: null, created_at: '2024-01-01',
  };
  const view: Tables<'post_counts'> = { author_id: 1, n: 2 };
  const insert: TablesInsert<'posts'> = { author_id: 1, title: 'T' };
  const patch: TablesUpdate<'authors'> = { bio: 'b' };
  const home: CompositeTypes<'address'> = { street: null, zip: 2 };
  const moods: readonly Enums<'mood'>[] = Constants.public.Enums.mood;
  const qualified: Tables<{ schema: 'public' }, 'posts'>['title'] = 'x';
  const qualifiedMood: Enums<{ schema: 'public' }, 'mood'> = 'sad';
  const qualifiedInsert: TablesInsert<{ schema: 'public' }, 'profiles'> = { author_id: 1 };
  out.push(qualified, qualifiedMood, String(qualifiedInsert.author_id));
  out.push(row.name, String(view.n), insert.title, patch.bio ?? '', String(home.zip), moods.join());
  return out;
}
`;

/** Each line marked "must fail" holds one type error; nothing else in the file may have one. */
export const WRONG_PROGRAM = `
import { createClient } from '@supabase/supabase-js';
import type { Database, Enums, Tables } from './database.types.js';

const supabase = createClient<Database>('http://127.0.0.1:54321', 'anon-key');

export async function wrong(): Promise<void> {
  await supabase.from('posts').insert({ author_id: 1, title: 42 }); // must fail: title is a string
  await supabase.from('authors').insert({ id: 7, name: 'B' }); // must fail: id is generated always
  await supabase.from('authors').insert({ bio: 'no name' }); // must fail: name is required
  await supabase.from('authors').update({ mood: 'angry' }).eq('id', 1); // must fail: not a mood
  const { data } = await supabase.from('posts').select('title').single();
  const title: number | undefined = data?.title; // must fail: a string, not a number
  await supabase.rpc('add', { a: 'one' }); // must fail: a is a number
  await supabase.from('no_such_table').select(); // must fail: no such table
  const mood: Enums<'mood'> = 'glad'; // must fail: not a mood
  const row: Tables<{ schema: 'public' }, 'authors'> = { id: 1 }; // must fail: a row has every column
  void title;
  void mood;
  void row;
}
`;
