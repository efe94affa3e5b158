-- Attempt limits that must hold across instances and cannot be rate-limiter points (they are
-- checked before the attempt and refunded after a success): wrong passwords per account, and
-- wrong codes per one-time token and per TOTP challenge.

-- One row per account (by email address, registered or not, so the limit reveals nothing) whose
-- password sign-in failed within the window: `failures` counts attempts in flight and failed ones.
create table if not exists trellis.auth_password_failures (
  email text primary key,
  failures integer not null,
  window_ends_at timestamptz not null
);
create index if not exists auth_password_failures_window_idx on trellis.auth_password_failures (window_ends_at);

-- A code that reaches AUTH_OTP_MAX_ATTEMPTS wrong tries is deleted with its link.
alter table auth.one_time_tokens add column if not exists failed_attempts integer not null default 0;
-- A challenge that reaches it is answered as expired.
alter table auth.mfa_challenges add column if not exists failed_attempts integer not null default 0;
