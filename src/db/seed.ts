/**
 * supabase/seed.sql, as the Supabase CLI applies it: after the migrations, on the first start of a
 * fresh database and on every `db reset` (which makes the database fresh again), never on a later
 * start. Where the seed stands is kept in `trellis.seed_state` (src/sql/0060_seed_state.sql).
 */
import fs from 'node:fs/promises';
import type pg from 'pg';
import { FatalError, errorMessage } from '../errors.js';
import { splitSql } from './split-sql.js';
import { inTransaction, runStatements, withoutTransactionWrapper } from './sql-file.js';

/**
 * Whether nothing has been applied to this database yet: neither Trellis's schema nor a project
 * migration (a Supabase database moved over has the latter). Asked before Trellis's schema runs.
 */
export async function isFreshDatabase(client: pg.PoolClient): Promise<boolean> {
  const { rows } = await client.query<{ own: string | null; project: string | null }>(
    `select to_regclass('trellis.schema_versions')::text as own,
            to_regclass('supabase_migrations.schema_migrations')::text as project`,
  );
  if (rows[0]?.own) return false;
  if (!rows[0]?.project) return true;
  const applied = await client.query('select 1 from supabase_migrations.schema_migrations limit 1');
  return applied.rowCount === 0;
}

/** Records that this database gets the seed once its migrations are applied (kept across a failed start). */
export async function markSeedDue(client: pg.PoolClient): Promise<void> {
  await client.query('insert into trellis.seed_state default values on conflict do nothing');
}

/**
 * Applies the seed if it is due: in one transaction with its bookkeeping, so a failing seed leaves
 * nothing of itself and stays due. Returns the file applied, or undefined.
 */
export async function applySeedIfDue(
  client: pg.PoolClient,
  seedFile: string,
  onProgress: (message: string) => void,
): Promise<string | undefined> {
  const due = await client.query('select 1 from trellis.seed_state where seeded_at is null');
  if (due.rowCount === 0) return undefined;
  let source: string | undefined;
  try {
    source = await fs.readFile(seedFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new FatalError(`cannot read seed ${seedFile}: ${errorMessage(err)}`);
  }
  const statements = source === undefined ? [] : withoutTransactionWrapper(splitSql(source), seedFile, 'seed');
  if (source !== undefined) onProgress(`applying seed ${seedFile}`);
  await inTransaction(client, async () => {
    await runStatements(client, statements, seedFile, 'seed');
    // The seed may have switched role (SET ROLE): the bookkeeping is the server's own.
    await client.query('reset role');
    await client.query('update trellis.seed_state set seeded_at = now(), file = $1', [
      source === undefined ? null : seedFile,
    ]);
  });
  return source === undefined ? undefined : seedFile;
}
