/**
 * `trellis db reset`'s database side, as `supabase db reset`: the project's data goes, and the
 * next migration run finds a fresh database (so it applies the migrations and the seed again).
 * The embedded database is simply made anew (its cluster folder goes, roles included); a
 * DATABASE_URL server keeps its roles and loses every schema of its database.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { FatalError, errorMessage } from '../errors.js';
import { stopEmbeddedOrphan } from './embedded.js';
import type { Db } from './pool.js';
import { ident } from './sql.js';

/** The schemas a reset drops: every one but PostgreSQL's own. */
export async function projectSchemas(db: Db): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `select nspname as name from pg_namespace
      where nspname not in ('pg_catalog', 'information_schema') and nspname not like 'pg\\_%'
      order by nspname`,
  );
  return rows.map((r) => r.name);
}

/**
 * Drops the schemas (and with them the tables, functions, extensions and event triggers in them)
 * and the realtime publication, then gives back an empty `public`, all in one transaction.
 */
export async function dropProjectSchemas(db: Db, schemas: readonly string[]): Promise<void> {
  await db.withConnection(
    async (client) => {
      await client.query('set statement_timeout = 0');
      await client.query('begin');
      try {
        for (const schema of schemas) await client.query(`drop schema ${ident(schema)} cascade`);
        await client.query('drop publication if exists supabase_realtime');
        await client.query('create schema if not exists public');
        await client.query('grant usage on schema public to public');
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw new FatalError(`cannot reset the database: ${errorMessage(err)}`);
      }
    },
    { discard: true },
  );
}

/**
 * Removes the embedded database's cluster folder (the caller holds the data folder's lock). Moved
 * aside first, so an interrupted removal never leaves a half cluster where a start would look.
 */
export async function removeEmbeddedCluster(dataDir: string, onProgress: (m: string) => void): Promise<void> {
  const pgDir = path.join(dataDir, 'pg');
  const exists = await fs.stat(pgDir).then(
    () => true,
    () => false,
  );
  if (!exists) return;
  // A PostgreSQL left running by a Trellis killed with -9 still has the folder open.
  await stopEmbeddedOrphan(dataDir, onProgress);
  const aside = path.join(dataDir, `pg.reset-${process.pid}`);
  try {
    await fs.rename(pgDir, aside);
    await fs.rm(aside, { recursive: true, force: true });
    // The old cluster's archived WAL: a new cluster reuses its segment names with other contents.
    await fs.rm(path.join(dataDir, 'wal-archive'), { recursive: true, force: true });
  } catch (err) {
    throw new FatalError(`cannot remove the embedded database ${pgDir}: ${errorMessage(err)}`);
  }
}
