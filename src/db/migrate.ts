/**
 * Two kinds of migrations, both under one advisory lock so that instances starting together against
 * one server apply each exactly once: Trellis's own schema (src/sql/*.sql, versions recorded in
 * `trellis.schema_versions`) and the project's (supabase/migrations/*.sql, recorded where the
 * Supabase CLI records them). Each file runs in its own transaction, statement by statement, so a
 * failure names its line and leaves the database as it was before that file.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { FatalError, StartAborted, errorMessage } from '../errors.js';
import type { Db } from './pool.js';
import { applyConfigBuckets, type BucketSpec } from './config-buckets.js';
import { applySeedIfDue, isFreshDatabase, markSeedDue, type SeedSource } from './seed.js';
import { providedExtension, providedNote } from './provided-extensions.js';
import { splitSql } from './split-sql.js';
import { inTransaction, runStatements, withoutTransactionWrapper } from './sql-file.js';

export interface MigrationFile {
  readonly version: string;
  readonly name: string;
  readonly file: string;
}

export interface MigrationReport {
  readonly applied: readonly MigrationFile[];
  readonly pending: readonly MigrationFile[];
  /** Trellis schema files not yet applied (only a dry run leaves any). */
  readonly schemaPending: number;
  /** The seed files applied by this run, comma-separated (a fresh database's first run only). */
  readonly seeded?: string;
}

// pg_advisory_lock key: "trellis" in ASCII.
const LOCK_KEY = '32772479246854515';
const OWN_SQL_DIR = fileURLToPath(new URL('../sql/', import.meta.url));
const FILE_PATTERN = /^(\d+)_(.+)\.sql$/;
const LOCK_POLL_MS = 200;
// Errors two databases on one server may hit when they create the same role at the same moment.
const RETRYABLE = new Set(['23505', '42710', 'XX000', '40001', '40P01']);

/** The project's migration files in the order they apply; names that do not fit are reported. */
export async function readMigrationFiles(dir: string, onSkip: (message: string) => void): Promise<MigrationFile[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new FatalError(`cannot read ${dir}: ${errorMessage(err)}`);
  }
  const files: MigrationFile[] = [];
  const seen = new Map<string, string>();
  for (const name of names.filter((n) => n.endsWith('.sql')).sort()) {
    const match = FILE_PATTERN.exec(name);
    if (!match?.[1] || !match[2]) {
      onSkip(`skipping ${name}: a migration's name must look like <timestamp>_<name>.sql`);
      continue;
    }
    const clash = seen.get(match[1]);
    if (clash) throw new FatalError(`${name} and ${clash} have the same version ${match[1]}; rename one`);
    seen.set(match[1], name);
    files.push({ version: match[1], name: match[2], file: path.join(dir, name) });
  }
  return files;
}

// Trellis's own schema files ship with the code: listed once per process, not on every /ready.
let ownFiles: Promise<MigrationFile[]> | undefined;

function ownSchemaFiles(): Promise<MigrationFile[]> {
  ownFiles ??= fs.readdir(OWN_SQL_DIR).then((all) =>
    all
      .filter((n) => FILE_PATTERN.test(n))
      .sort()
      .map((n) => {
        const [, version = '', name = ''] = FILE_PATTERN.exec(n) ?? [];
        return { version, name, file: path.join(OWN_SQL_DIR, n) };
      }),
  );
  return ownFiles;
}

export interface MigrateOptions {
  readonly dryRun: boolean;
  readonly onProgress: (message: string) => void;
  /** SIGTERM/SIGINT during a start: stop waiting for the lock, cancel the file in progress. */
  readonly abort?: AbortSignal;
  /** The seed files: applied after the migrations when the database was fresh (see seed.ts). */
  readonly seed?: SeedSource;
  /** config.toml's [storage.buckets.*]: made or updated after the seed, on every run. */
  readonly buckets?: readonly BucketSpec[];
}

/**
 * Applies Trellis's schema, then the project's pending migrations. A dry run only reads: it reports
 * what would be applied and changes nothing.
 */
export async function migrate(db: Db, migrationsDir: string, options: MigrateOptions): Promise<MigrationReport> {
  const files = await readMigrationFiles(migrationsDir, options.onProgress);
  const abort = options.abort;
  // The connection is discarded afterwards: SET commands in migration files must not reach the
  // pool that serves requests.
  return db.withConnection(
    async (client) => {
      // Waiting for another instance's migrations may take longer than any statement timeout.
      await client.query('set statement_timeout = 0');
      await acquireLock(client, abort, options.onProgress);
      try {
        if (options.dryRun) return await pendingWork(client, files);
        const fresh = await isFreshDatabase(client);
        await applyOwnSchema(client);
        if (fresh) await markSeedDue(client);
        await useDatabaseSearchPath(client);
        const done = await appliedVersions(client, 'supabase_migrations.schema_migrations');
        const pending = files.filter((f) => !done.has(f.version));
        const applied: MigrationFile[] = [];
        for (const [i, migration] of pending.entries()) {
          throwIfAborted(abort);
          options.onProgress(`applying migration ${i + 1}/${pending.length}: ${path.basename(migration.file)}`);
          await cancellable(db, client, abort, () => applyUserMigration(client, migration, options.onProgress));
          applied.push(migration);
        }
        throwIfAborted(abort);
        const seed = options.seed;
        const seeded = seed
          ? await cancellable(db, client, abort, () => applySeedIfDue(client, seed, options.onProgress))
          : undefined;
        throwIfAborted(abort);
        for (const line of await applyConfigBuckets(client, options.buckets ?? [])) options.onProgress(line);
        // A running server reloads its data API schema cache (PostgREST's channel and payload).
        if (applied.length > 0 || seeded) await client.query(`notify pgrst, 'reload schema'`);
        return { applied, pending: [], schemaPending: 0, seeded };
      } finally {
        await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]).catch(() => undefined);
      }
    },
    { discard: true },
  );
}

/**
 * Project migrations see the search path a new connection would: Trellis's schema puts `extensions`
 * on the database's search path (as Supabase does, so `uuid_generate_v4()` and `crypt()` resolve
 * unqualified), but this connection was opened before it did, on a first start.
 */
async function useDatabaseSearchPath(client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ path: string }>(
    `select substr(c, length('search_path=') + 1) as path
       from pg_db_role_setting s, unnest(s.setconfig) as c
      where s.setrole = 0 and s.setdatabase = (select oid from pg_database where datname = current_database())
        and c like 'search_path=%'`,
  );
  if (rows[0]) await client.query(`select set_config('search_path', $1, false)`, [rows[0].path]);
}

/** Polls for the lock, so a signal can end the wait. */
async function acquireLock(
  client: pg.PoolClient,
  abort: AbortSignal | undefined,
  onProgress: (m: string) => void,
): Promise<void> {
  for (let waited = 0; ; waited += LOCK_POLL_MS) {
    const { rows } = await client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [LOCK_KEY]);
    if (rows[0]?.locked) return;
    throwIfAborted(abort);
    if (waited === 0) onProgress('waiting for another instance to finish migrating');
    await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
  }
}

function throwIfAborted(abort: AbortSignal | undefined): void {
  if (abort?.aborted) throw new StartAborted(String(abort.reason));
}

/** Runs `work`; a signal meanwhile cancels the statement in progress, which rolls the file back. */
async function cancellable<T>(
  db: Db,
  client: pg.PoolClient,
  abort: AbortSignal | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (!abort) return work();
  const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]?.pid;
  // A cancel reaches only a statement already running, so it repeats until the work has ended.
  let repeat: NodeJS.Timeout | undefined;
  const cancel = () => {
    const once = () => void db.query('select pg_cancel_backend($1)', [pid]).catch(() => undefined);
    once();
    repeat = setInterval(once, 250);
  };
  abort.addEventListener('abort', cancel, { once: true });
  try {
    // A signal that came while the pid was being read has already fired its event.
    throwIfAborted(abort);
    return await work();
  } catch (err) {
    throwIfAborted(abort);
    throw err;
  } finally {
    abort.removeEventListener('abort', cancel);
    clearInterval(repeat);
  }
}

async function appliedVersions(client: pg.PoolClient, table: string): Promise<Set<string>> {
  const exists = (await client.query<{ t: string | null }>('select to_regclass($1)::text as t', [table])).rows[0]?.t;
  if (!exists) return new Set();
  return new Set((await client.query<{ version: string }>(`select version from ${table}`)).rows.map((r) => r.version));
}

async function pendingWork(client: pg.PoolClient, files: MigrationFile[]): Promise<MigrationReport> {
  const [own, ownDone, projectDone] = await Promise.all([
    ownSchemaFiles(),
    appliedVersions(client, 'trellis.schema_versions'),
    appliedVersions(client, 'supabase_migrations.schema_migrations'),
  ]);
  return {
    applied: [],
    pending: files.filter((f) => !projectDone.has(f.version)),
    schemaPending: own.filter((f) => !ownDone.has(f.version)).length,
  };
}

/** Whether Trellis's schema and every project migration are applied (for /ready). */
export async function isMigrated(db: Db, migrationsDir: string): Promise<boolean> {
  const [own, files] = await Promise.all([ownSchemaFiles(), readMigrationFiles(migrationsDir, () => undefined)]);
  const result = await db.query<{ own: string[] | null; project: string[] | null }>(
    `select (select array_agg(version) from trellis.schema_versions) as own,
            (select array_agg(version) from supabase_migrations.schema_migrations) as project`,
  );
  const row = result.rows[0];
  const ownDone = new Set(row?.own ?? []);
  const projectDone = new Set(row?.project ?? []);
  return own.every((f) => ownDone.has(f.version)) && files.every((f) => projectDone.has(f.version));
}

async function applyOwnSchema(client: pg.PoolClient): Promise<void> {
  await client.query(`create schema if not exists trellis;
    create table if not exists trellis.schema_versions (
      version text primary key, name text not null, applied_at timestamptz not null default now())`);
  const done = new Set(
    (await client.query<{ version: string }>('select version from trellis.schema_versions')).rows.map((r) => r.version),
  );
  for (const file of await ownSchemaFiles()) {
    if (done.has(file.version)) continue;
    const sql = await fs.readFile(file.file, 'utf8');
    for (let attempt = 1; ; attempt++) {
      try {
        await inTransaction(client, async () => {
          await client.query(sql);
          await client.query('insert into trellis.schema_versions (version, name) values ($1, $2)', [
            file.version,
            file.name,
          ]);
        });
        break;
      } catch (err) {
        const code = (err as { code?: string }).code ?? '';
        if (attempt < 5 && RETRYABLE.has(code)) continue;
        throw new FatalError(`Trellis schema ${path.basename(file.file)} failed: ${errorMessage(err)}`);
      }
    }
  }
}

async function applyUserMigration(
  client: pg.PoolClient,
  migration: MigrationFile,
  onProgress: (message: string) => void,
): Promise<void> {
  let source: string;
  try {
    source = await fs.readFile(migration.file, 'utf8');
  } catch (err) {
    throw new FatalError(`cannot read migration ${migration.file}: ${errorMessage(err)}`);
  }
  const statements = withoutTransactionWrapper(splitSql(source), migration.file, 'migration');
  const run = statements.filter((s) => {
    const provided = providedExtension(s.text);
    if (provided) onProgress(`${path.basename(migration.file)} line ${s.line}: ${providedNote(provided)}`);
    return provided === undefined;
  });
  await inTransaction(client, async () => {
    await runStatements(client, run, migration.file, 'migration');
    // A file may have switched role (SET ROLE): the bookkeeping is the server's own.
    await client.query('reset role');
    await client.query(
      'insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)',
      [migration.version, migration.name, statements.map((s) => s.text)],
    );
  });
}
