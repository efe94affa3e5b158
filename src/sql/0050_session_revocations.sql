-- Revoked sessions (sign-out, a deleted or banned user: every path deletes auth.sessions rows) are
-- announced on trellis_sessions, so every instance's session check forgets them at once. One
-- notification per statement; '*' when the ids would not fit a NOTIFY payload (8000 bytes).
create or replace function trellis.announce_revoked_sessions() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  ids text;
begin
  select string_agg(id::text, ',') into ids from gone;
  if ids is not null then
    perform pg_notify('trellis_sessions', case when length(ids) > 7000 then '*' else ids end);
  end if;
  return null;
end
$$;

drop trigger if exists announce_revoked_sessions on auth.sessions;
create trigger announce_revoked_sessions after delete on auth.sessions
  referencing old table as gone for each statement execute function trellis.announce_revoked_sessions();
