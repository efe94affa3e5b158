-- Supabase's storage schema: buckets and objects with the names and columns a project's policies
-- and queries use, the helpers those policies call, and row-level security enabled on both tables
-- as on Supabase (so a project without storage policies lets only the service_role in).
-- Re-runnable: every step checks what exists.

create table if not exists storage.buckets (
  id text primary key,
  name text not null,
  -- Supabase keeps both: `owner` (uuid, deprecated) and `owner_id` (text).
  owner uuid,
  owner_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  public boolean not null default false,
  avif_autodetection boolean not null default false,
  file_size_limit bigint,
  allowed_mime_types text[],
  type text not null default 'STANDARD'
);
create unique index if not exists bname on storage.buckets (name);

create table if not exists storage.objects (
  id uuid primary key default gen_random_uuid(),
  bucket_id text references storage.buckets (id),
  name text,
  owner uuid,
  owner_id text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  last_accessed_at timestamptz not null default now(),
  metadata jsonb,
  user_metadata jsonb,
  path_tokens text[] generated always as (string_to_array(name, '/')) stored,
  -- Which stored copy of the bytes the row points at: an upload writes a new version and swaps the
  -- row to it in one transaction, so a reader never sees half a file (see src/storage/objects.ts).
  version text
);
create unique index if not exists bucketid_objname on storage.objects (bucket_id, name);
create index if not exists name_prefix_search on storage.objects (name text_pattern_ops);

alter table storage.buckets enable row level security;
alter table storage.objects enable row level security;

-- The helpers Supabase's documented policies use, e.g.
--   (storage.foldername(name))[1] = auth.uid()::text
create or replace function storage.foldername(name text) returns text[]
language sql immutable
as $$
  select (string_to_array(name, '/'))[1 : greatest(coalesce(array_length(string_to_array(name, '/'), 1), 0) - 1, 0)]
$$;

create or replace function storage.filename(name text) returns text
language sql immutable
as $$
  select (string_to_array(name, '/'))[array_length(string_to_array(name, '/'), 1)]
$$;

create or replace function storage.extension(name text) returns text
language sql immutable
as $$
  -- Supabase's definition: the text after the last dot of the file name (the whole name if none).
  select reverse(split_part(reverse(storage.filename(name)), '.', 1))
$$;

grant all on storage.buckets, storage.objects to anon, authenticated, service_role;
grant execute on function storage.foldername(text), storage.filename(text), storage.extension(text) to anon, authenticated, service_role;
