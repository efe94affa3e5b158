-- The roles a Supabase project has. Roles belong to the whole server, not one database, and two
-- databases on one server may run this at once: every step tolerates "already exists".

do $$
declare
  r record;
begin
  for r in select * from (values
    ('anon', 'nologin noinherit'),
    ('authenticated', 'nologin noinherit'),
    ('service_role', 'nologin noinherit bypassrls'),
    -- The login role PostgREST-style servers connect as; it can only become one of the three above.
    ('authenticator', 'login noinherit')
  ) as v(name, options)
  loop
    if not exists (select 1 from pg_roles where rolname = r.name) then
      begin
        execute format('create role %I %s', r.name, r.options);
      exception when duplicate_object or unique_violation then
        null;
      end;
    end if;
  end loop;
end
$$;

do $$
declare
  api_role text;
  member text;
begin
  foreach member in array array['authenticator', session_user::text] loop
    -- A superuser can already become any role.
    continue when (select rolsuper from pg_roles where rolname = member);
    foreach api_role in array array['anon', 'authenticated', 'service_role'] loop
      if not pg_has_role(member, api_role, 'member') then
        execute format('grant %I to %I', api_role, member);
      end if;
    end loop;
  end loop;
end
$$;
