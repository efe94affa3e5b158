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
import { FatalError, errorMessage } from '../errors.js';
import type { Db } from './pool.js';
import { lineAt, splitSql } from './split-sql.js';

export interface MigrationFile {
  readonly version: string;
  readonly name: string;
  readonly file: string;
}

export interface MigrationReport {
  readonly applied: readonly MigrationFile[];
  readonly pending: readonly MigrationFile[];
}

// pg_advisory_lock key: "trellis" in ASCII.
const LOCK_KEY = '32772479246854515';
const OWN_SQL_DIR = fileURLToPath(new URL('../sql/', import.meta.url));
const FILE_PATTERN = /^(\d+)_(.+)\.sql$/;
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

async function ownSchemaFiles(): Promise<MigrationFile[]> {
  const names = (await fs.readdir(OWN_SQL_DIR)).filter((n) => FILE_PATTERN.test(n)).sort();
  return names.map((n) => {
    const [, version = '', name = ''] = FILE_PATTERN.exec(n) ?? [];
    return { version, name, file: path.join(OWN_SQL_DIR, n) };
  });
}

/** Applies Trellis's schema, then the project's pending migrations (or only lists them on a dry run). */
export async function migrate(
  db: Db,
  migrationsDir: string,
  options: { dryRun: boolean; onProgress: (message: string) => void; checkpoint?: () => void },
): Promise<MigrationReport> {
  const files = await readMigrationFiles(migrationsDir, options.onProgress);
  return db.withConnection(async (client) => {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      await client.query('set statement_timeout = 0');
      await applyOwnSchema(client);
      const done = new Set(
        (await client.query<{ version: string }>('select version from supabase_migrations.schema_migrations')).rows.map(
          (r) => r.version,
        ),
      );
      const pending = files.filter((f) => !done.has(f.version));
      if (options.dryRun) return { applied: [], pending };
      const applied: MigrationFile[] = [];
      for (const [i, migration] of pending.entries()) {
        options.checkpoint?.();
        options.onProgress(`applying migration ${i + 1}/${pending.length}: ${path.basename(migration.file)}`);
        await applyUserMigration(client, migration);
        applied.push(migration);
      }
      return { applied, pending: [] };
    } finally {
      await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]);
      await client.query('reset statement_timeout');
    }
  });
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
          await client.query('insert into trellis.schema_versions (version, name) values ($1, $2)', [file.version, file.name]);
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

async function applyUserMigration(client: pg.PoolClient, migration: MigrationFile): Promise<void> {
  const source = await fs.readFile(migration.file, 'utf8');
  const statements = splitSql(source);
  await inTransaction(client, async () => {
    for (const statement of statements) {
      try {
        await client.query(statement.text);
      } catch (err) {
        const position = Number((err as { position?: string }).position);
        const line = Number.isInteger(position) && position > 0
          ? statement.line + lineAt(statement.text, position - 1) - 1
          : statement.line;
        throw new FatalError(`migration ${migration.file} failed at line ${line}: ${errorMessage(err)}`);
      }
    }
    await client.query('insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)', [
      migration.version,
      migration.name,
      statements.map((s) => s.text),
    ]);
  });
}

async function inTransaction(client: pg.PoolClient, fn: () => Promise<void>): Promise<void> {
  await client.query('begin');
  try {
    await fn();
    await client.query('commit');
  } catch (err) {
    await client.query('rollback');
    throw err;
  }
}
