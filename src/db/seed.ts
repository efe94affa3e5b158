/**
 * The seed (supabase/seed.sql, or config.toml's [db.seed] sql_paths), as the Supabase CLI applies
 * it: after the migrations, on the first start of a fresh database and on every `db reset` (which
 * makes the database fresh again), never on a later start. Where the seed stands is kept in
 * `trellis.seed_state` (src/sql/0060_seed_state.sql).
 */
import fs from 'node:fs/promises';
import type pg from 'pg';
import { FatalError, errorMessage } from '../errors.js';
import { resolveSeedFiles } from './seed-paths.js';
import { splitSql, type SqlStatement } from './split-sql.js';
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

/** Which files seed the database: config.toml's [db.seed] (or its defaults: `./seed.sql`, enabled). */
export interface SeedSource {
  readonly enabled: boolean;
  /** The supabase/ folder, which relative paths start from. */
  readonly dir: string;
  /** Paths or globs, in order. */
  readonly paths: readonly string[];
}

/** Where the CLI looks without a config.toml: a missing seed.sql there is no news. */
const DEFAULT_PATH = './seed.sql';

/**
 * Applies the seed if it is due: every file in order, in one transaction with its bookkeeping, so a
 * failing seed leaves nothing of itself and stays due. A disabled seed counts as applied (as a
 * project without seed files does), so turning it on later does not seed a database in use.
 * Returns the files applied (comma-separated), or undefined.
 */
export async function applySeedIfDue(
  client: pg.PoolClient,
  seed: SeedSource,
  onProgress: (message: string) => void,
): Promise<string | undefined> {
  const due = await client.query('select 1 from trellis.seed_state where seeded_at is null');
  if (due.rowCount === 0) return undefined;
  const { files, unmatched } = seed.enabled
    ? await resolveSeedFiles(seed.dir, seed.paths)
    : { files: [], unmatched: [] };
  for (const pattern of unmatched)
    if (pattern !== DEFAULT_PATH) onProgress(`no seed file matches ${pattern} (in ${seed.dir})`);
  const sources: { file: string; statements: SqlStatement[] }[] = [];
  for (const file of files) {
    let source: string;
    try {
      source = await fs.readFile(file, 'utf8');
    } catch (err) {
      throw new FatalError(`cannot read seed ${file}: ${errorMessage(err)}`);
    }
    sources.push({ file, statements: withoutTransactionWrapper(splitSql(source), file, 'seed') });
  }
  const applied = files.length === 0 ? undefined : files.join(', ');
  await inTransaction(client, async () => {
    for (const { file, statements } of sources) {
      onProgress(`applying seed ${file}`);
      await runStatements(client, statements, file, 'seed');
      // A seed file may switch role (SET ROLE): the next file, and the bookkeeping, run as the server.
      await client.query('reset role');
    }
    await client.query('update trellis.seed_state set seeded_at = now(), file = $1', [applied ?? null]);
  });
  return applied;
}
