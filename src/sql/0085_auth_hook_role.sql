-- The role Postgres-function auth hooks run as (src/auth/hooks-pg.ts): GoTrue connects as
-- supabase_auth_admin, so Supabase's docs have users grant their hook functions, and the tables
-- those read, to it. Roles belong to the whole server: every step tolerates "already exists".
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    begin
      create role supabase_auth_admin nologin noinherit;
    exception when duplicate_object or unique_violation then
      null;
    end;
  end if;
  -- The server's own login switches to it for the call (a superuser can already become any role).
  if not (select rolsuper from pg_roles where rolname = session_user)
     and not pg_has_role(session_user, 'supabase_auth_admin', 'member') then
    execute format('grant supabase_auth_admin to %I', session_user);
  end if;
end
$$;

-- As on Supabase, where it owns the auth schema: a hook may read auth's tables and call auth.uid()/auth.jwt().
grant usage on schema auth to supabase_auth_admin;
grant select on all tables in schema auth to supabase_auth_admin;
