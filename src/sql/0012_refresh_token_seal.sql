-- The active refresh token of a session, sealed (AES-256-GCM with a key derived from the JWT
-- secret), so that a client retrying within the reuse interval gets the same token back instead
-- of a second, independent one. Rotated-out tokens keep no sealed copy.
alter table auth.refresh_tokens add column if not exists sealed text;
