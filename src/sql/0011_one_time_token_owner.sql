-- A sign-up confirmation sent because someone asked for a magic link or code (not by the sign-up
-- itself) proves the address without vouching for the password the sign-up chose: verifying it
-- drops that password.
alter table auth.one_time_tokens add column if not exists drops_password boolean not null default false;
