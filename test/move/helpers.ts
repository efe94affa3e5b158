/** A project for the move tests: users, RLS, an identity column, a foreign key, an enum, a storage object. */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { runCli } from '../helpers/cli.js';

export const MIGRATIONS = {
  '20240101000000_notes.sql': `
create type mood as enum ('happy', 'sad');
create table notes (
  id bigint generated always as identity primary key,
  owner uuid not null default auth.uid() references auth.users (id),
  body text not null,
  mood mood not null default 'happy',
  created_at timestamptz not null default now()
);
create table tags (id serial primary key, note_id bigint not null references notes (id), label text not null);
alter table notes enable row level security;
alter table tags enable row level security;
create policy "own notes" on notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
create policy "tags of own notes" on tags for all to authenticated
  using (exists (select 1 from notes n where n.id = note_id));
-- Made over empty tables by the migration: the move refreshes it once the rows are in.
create materialized view note_counts as select owner, count(*)::int as notes from notes group by owner;
-- An identifier that must be quoted everywhere it is used.
create table "odd ""name""; drop table notes" (k text primary key);
insert into "odd ""name""; drop table notes" values ('from the migration');
-- The Supabase pattern: a profile made by a trigger for each new user. The move must not run it
-- again for the copied users (the profiles come with the copy).
create table profiles (id uuid primary key references auth.users (id), email text);
create function public.handle_new_user() returns trigger language plpgsql security definer set search_path = ''
  as $$ begin insert into public.profiles (id, email) values (new.id, new.email); return new; end $$;
create trigger on_auth_user_created after insert on auth.users for each row execute function public.handle_new_user();
insert into storage.buckets (id, name, public) values ('docs', 'docs', false);
create policy "own docs" on storage.objects for select to authenticated
  using (bucket_id = 'docs' and (storage.foldername(name))[1] = auth.uid()::text);
`,
};

export interface Status {
  API_URL: string;
  DB_URL: string;
  ANON_KEY: string;
  SERVICE_ROLE_KEY: string;
}

export async function statusOf(dir: string): Promise<Status> {
  const status = await runCli(['status', '--dir', dir, '-o', 'json']);
  return JSON.parse(status.stdout) as Status;
}

export function client(status: Status, key = status.ANON_KEY, token?: string): SupabaseClient {
  return createClient(status.API_URL, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as unknown as never },
    ...(token && { global: { headers: { Authorization: `Bearer ${token}` } } }),
  });
}

export async function query<T = Record<string, unknown>>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql, values)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Signs up, writes notes and tags as that user; returns the session's tokens and the user's id. */
export async function userWithNotes(
  status: Status,
  name: string,
  notes: string[],
): Promise<{ id: string; accessToken: string; refreshToken: string }> {
  const c = client(status);
  const { data, error } = await c.auth.signUp({ email: `${name}@example.com`, password: `${name} password 1` });
  if (error || !data.session || !data.user) throw error ?? new Error('no session');
  for (const body of notes) {
    const inserted = await c.from('notes').insert({ body, mood: 'sad' }).select('id').single();
    if (inserted.error) throw new Error(inserted.error.message);
    const tag = await c.from('tags').insert({ note_id: inserted.data.id, label: `${name}-tag` });
    if (tag.error) throw new Error(tag.error.message);
  }
  return { id: data.user.id, accessToken: data.session.access_token, refreshToken: data.session.refresh_token };
}
