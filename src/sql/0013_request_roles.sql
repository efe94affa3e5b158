-- The password of the login role requests run under (src/db/request-role.ts): random, made by the
-- first instance that starts, read by the others. Only the server's own login can read it.
create table if not exists trellis.request_roles (
  role_name text primary key,
  password text not null,
  created_at timestamptz not null default now()
);
revoke all on trellis.request_roles from public;
