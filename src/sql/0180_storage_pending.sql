-- Nothing orphaned (docs/storage.md, "Nothing orphaned"): every object version whose bytes may exist without
-- a row naming them has an entry here. An upload enters its version before its bytes become visible and the
-- row's own transaction settles the entry (the trigger below), so a process that dies between the
-- bytes and the row leaves an entry behind, which the sweep (src/platform/store/pending.ts) finds once
-- its writer stopped renewing it, and removes the bytes. A version a row stops naming (a delete, an
-- upsert's replaced bytes, a move) is entered as `doomed` in that same transaction, so bytes a
-- process did not get to remove after the commit are removed by the sweep too.

create schema if not exists trellis;

create table if not exists trellis.storage_pending (
  bucket_id text not null,
  name text not null,
  version text not null,
  -- 'write': bytes being written, settled by a row; 'doomed': no row names them any more.
  kind text not null check (kind in ('write', 'doomed')),
  -- When the write began (`trellis storage move` waits for the writes begun before its switch).
  created_at timestamptz not null default now(),
  -- Renewed by the writer while the write is in progress (and until its row commits).
  touched_at timestamptz not null default now(),
  primary key (version, bucket_id, name)
);
create index if not exists storage_pending_touched on trellis.storage_pending (touched_at);
revoke all on trellis.storage_pending from public, anon, authenticated, service_role;

-- Owned by the migrating role: the rows change as the caller (under RLS), the ledger as the server.
create or replace function trellis.storage_settle() returns trigger
language plpgsql security definer set search_path = pg_catalog as $$
begin
  if tg_op in ('UPDATE', 'DELETE') and old.version is not null
     and (tg_op = 'DELETE' or old.version is distinct from new.version
          or old.bucket_id is distinct from new.bucket_id or old.name is distinct from new.name) then
    insert into trellis.storage_pending (bucket_id, name, version, kind)
      values (old.bucket_id, old.name, old.version, 'doomed')
      on conflict (version, bucket_id, name) do update set kind = 'doomed', touched_at = now();
  end if;
  if tg_op in ('INSERT', 'UPDATE') and new.version is not null then
    delete from trellis.storage_pending
      where version = new.version and bucket_id = new.bucket_id and name = new.name;
  end if;
  return null;
end
$$;
revoke all on function trellis.storage_settle() from public;

drop trigger if exists storage_settle on storage.objects;
create trigger storage_settle after insert or update of version, bucket_id, name or delete on storage.objects
  for each row execute function trellis.storage_settle();
