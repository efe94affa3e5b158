-- OAuth sign-in (src/auth/oauth/), as GoTrue keeps it: every /authorize starts an auth.flow_state
-- row that remembers where to send the browser back (referrer), whom a linking flow is for, and —
-- for PKCE clients — the code challenge; implicit flows leave the PKCE columns empty. The provider's
-- own PKCE verifier waits in auth.oauth_client_states until the callback takes it (once).
alter table auth.flow_state
  add column if not exists invite_token text null,
  add column if not exists referrer text null,
  add column if not exists oauth_client_state_id uuid null,
  add column if not exists linking_target_id uuid null,
  add column if not exists email_optional boolean not null default false;
alter table auth.flow_state
  alter column code_challenge drop not null,
  alter column code_challenge_method drop not null,
  alter column auth_code drop not null;
comment on table auth.flow_state is 'Stores metadata for all OAuth/SSO login flows';

create table if not exists auth.oauth_client_states (
  id uuid primary key,
  provider_type text not null,
  code_verifier text,
  created_at timestamptz not null
);
create index if not exists idx_oauth_client_states_created_at on auth.oauth_client_states (created_at);
comment on table auth.oauth_client_states is
  'Stores OAuth states for third-party provider authentication flows where Supabase acts as the OAuth client.';
