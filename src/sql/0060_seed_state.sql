-- Whether supabase/seed.sql is still due on this database. Supabase applies the seed on the first
-- start and on `db reset` only, so a row is written when Trellis finds the database fresh (nothing
-- of its own schema and no project migration yet), and marked done once the seed has run (or when
-- there was no seed file). A database that was not fresh has no row and is never seeded by a start.
create table if not exists trellis.seed_state (
  only_row boolean primary key default true check (only_row),
  -- null while the seed is due (a first start that failed after this row was written retries it)
  seeded_at timestamptz,
  -- the seed file applied, or null when the project had none
  file text
);
revoke all on trellis.seed_state from public;
