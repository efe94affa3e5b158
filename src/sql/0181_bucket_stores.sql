-- A store per bucket (docs/storage.md, "A store per bucket"): the store a bucket's bytes are kept
-- in, by name: config.toml's [storage.stores.<name>], or `default` (STORAGE_BACKEND) for a bucket
-- without a row here. Trellis's own table, not a column of storage.buckets: that table is
-- Supabase's, read by clients and policies as Supabase defines it. `previous` is the store a
-- `trellis storage move` is moving the bucket from: reads fall back to it until the move ends.

create schema if not exists trellis;

create table if not exists trellis.bucket_stores (
  bucket_id text primary key references storage.buckets (id) on delete cascade,
  store text not null,
  previous text,
  updated_at timestamptz not null default now()
);
revoke all on trellis.bucket_stores from public, anon, authenticated, service_role;
