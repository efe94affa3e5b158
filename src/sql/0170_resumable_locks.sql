-- Resumable (TUS) uploads (docs/storage.md): who is writing an upload right now. A lease, not a
-- held connection or session lock: a PATCH from a slow phone may last minutes, and a pool
-- connection per upload in progress would starve the API. The holder renews its lease while it
-- writes; a lease whose holder died runs out and another instance takes the upload over.

create schema if not exists trellis;

create table if not exists trellis.resumable_locks (
  upload_id text primary key,
  holder uuid not null,
  expires_at timestamptz not null
);
revoke all on trellis.resumable_locks from public, anon, authenticated, service_role;
