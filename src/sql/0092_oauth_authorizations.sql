-- The OAuth 2.1 server's authorization requests and users' consents, as GoTrue's
-- auth.oauth_authorizations / auth.oauth_consents (its migrations 20250804100000, 20251104100000),
-- and the client a session was issued to (sessions.oauth_client_id, scopes). Trellis keeps the
-- SHA-256 of an authorization code in authorization_code, not the code.
do $$ begin
  create type auth.oauth_authorization_status as enum ('pending', 'approved', 'denied', 'expired');
exception
  when duplicate_object then null;
end $$;
do $$ begin
  create type auth.oauth_response_type as enum ('code');
exception
  when duplicate_object then null;
end $$;

create table if not exists auth.oauth_authorizations (
  id uuid not null primary key,
  authorization_id text not null unique,
  client_id uuid not null references auth.oauth_clients (id) on delete cascade,
  user_id uuid null references auth.users (id) on delete cascade,
  redirect_uri text not null check (char_length(redirect_uri) <= 2048),
  scope text not null check (char_length(scope) <= 4096),
  state text null check (char_length(state) <= 4096),
  resource text null check (char_length(resource) <= 2048),
  code_challenge text null check (char_length(code_challenge) <= 128),
  code_challenge_method auth.code_challenge_method null,
  response_type auth.oauth_response_type not null default 'code',
  status auth.oauth_authorization_status not null default 'pending',
  authorization_code text null unique check (char_length(authorization_code) <= 255),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default (now() + interval '3 minutes'),
  approved_at timestamptz null,
  nonce text null check (char_length(nonce) <= 255)
);
create index if not exists oauth_auth_pending_exp_idx on auth.oauth_authorizations (expires_at) where status = 'pending';

create table if not exists auth.oauth_consents (
  id uuid not null primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  client_id uuid not null references auth.oauth_clients (id) on delete cascade,
  scopes text not null check (char_length(scopes) <= 2048 and char_length(trim(scopes)) > 0),
  granted_at timestamptz not null default now(),
  revoked_at timestamptz null,
  constraint oauth_consents_user_client_unique unique (user_id, client_id)
);

alter table auth.sessions add column if not exists oauth_client_id uuid null
  references auth.oauth_clients (id) on delete cascade;
alter table auth.sessions add column if not exists scopes text null;
create index if not exists sessions_oauth_client_id_idx on auth.sessions (oauth_client_id);
