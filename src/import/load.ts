/**
 * Runs an import plan on one PostgreSQL connection: per table (one transaction each, or one for
 * everything with --atomic) the table, its rows by COPY, its keys and indexes after the data, row
 * security on; the foreign keys once every table holds its rows. A failure rolls back what its
 * transaction wrote and names the table, the SQLite row and the column.
 */
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { copyRowsIn, CopyValueError, ident, isPgError } from '../db/index.js';
import { FatalError, errorMessage } from '../errors.js';
import { progress } from '../platform/progress.js';
import { converter } from './convert.js';
import type { ImportPlan, Note, OptionalStep, TablePlan } from './sqlite-schema.js';
import { existingEmails, insertAuthUsers, readAuthUsers, type AuthUser } from './users.js';

export interface LoadOptions {
  readonly atomic: boolean;
  readonly replace: boolean;
  readonly progressStream?: NodeJS.WritableStream;
}

export interface LoadResult {
  readonly tables: readonly { readonly name: string; readonly rows: number; readonly ms: number }[];
  readonly notes: readonly Note[];
  readonly users: number;
}

export async function loadPlan(
  sqlite: Database.Database,
  client: pg.ClientBase,
  plan: ImportPlan,
  options: LoadOptions,
): Promise<LoadResult> {
  const notes: Note[] = [];
  // Imports run long: no statement deadline; zone-less date-times are UTC, as SQLite writes them.
  // Index builds after the data sort in memory when they fit.
  await client.query(`set statement_timeout = 0; set timezone = 'UTC'; set maintenance_work_mem = '256MB'`);
  await preflight(client, plan, options.replace);
  const usersPlan = plan.tables.find((t) => t.users);
  const authUsers = usersPlan?.users ? readAuthUsers(sqlite, usersPlan, usersPlan.users) : [];
  if (authUsers.length > 0 && !options.replace) {
    const taken = await existingEmails(client, authUsers);
    if (taken.length > 0)
      throw new FatalError(
        `auth.users already has ${taken.join(', ')}: nothing was imported (--replace replaces those users)`,
      );
  }
  const done: { name: string; rows: number; ms: number }[] = [];
  if (options.atomic) await client.query('begin');
  try {
    await client.query(`create schema if not exists ${ident(plan.schema)}`);
    await client.query(`grant usage on schema ${ident(plan.schema)} to anon, authenticated, service_role`);
    for (const table of plan.tables) {
      if (!options.atomic) await client.query('begin');
      try {
        const started = performance.now();
        const rows = await loadTable(sqlite, client, plan, table, table.users ? authUsers : undefined, options, notes);
        if (!options.atomic) await client.query('commit');
        done.push({ name: table.name, rows, ms: performance.now() - started });
      } catch (err) {
        if (!options.atomic) await client.query('rollback');
        const kept =
          done.length > 0 && !options.atomic
            ? ` (imported before it, and kept: ${done.map((d) => d.name).join(', ')})`
            : '';
        throw new FatalError(
          `${errorMessage(err)}; table "${table.name}" was rolled back${options.atomic ? ', and with it the whole import (--atomic)' : kept}`,
        );
      }
    }
    if (!options.atomic) await client.query('begin');
    for (const table of plan.tables) for (const fk of table.foreignKeys) await addForeignKey(client, table, fk, notes);
    await client.query(`notify pgrst, 'reload schema'`);
    await client.query('commit');
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  }
  return { tables: done, notes, users: authUsers.length };
}

/** Refuses before writing anything: tables that exist already (unless --replace). */
async function preflight(client: pg.ClientBase, plan: ImportPlan, replace: boolean): Promise<void> {
  const { rows } = await client.query<{ name: string }>(
    `select c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and c.relname = any($2::text[]) and c.relkind in ('r', 'p', 'v', 'm', 'f') order by 1`,
    [plan.schema, plan.tables.map((t) => t.name)],
  );
  if (rows.length > 0 && !replace)
    throw new FatalError(
      `${plan.schema} already has ${rows.map((r) => `"${r.name}"`).join(', ')}: nothing was imported (--replace drops and imports them again)`,
    );
}

async function loadTable(
  sqlite: Database.Database,
  client: pg.ClientBase,
  plan: ImportPlan,
  table: TablePlan,
  authUsers: readonly AuthUser[] | undefined,
  options: LoadOptions,
  notes: Note[],
): Promise<number> {
  const target = `${ident(plan.schema)}.${ident(table.name)}`;
  if (options.replace) await client.query(`drop table if exists ${target} cascade`);
  await client.query(table.create);
  if (authUsers) await insertAuthUsers(client, authUsers, options.replace);
  const bar = progress(`${table.name}`, {
    total: table.rowCount,
    unit: 'rows',
    ...(options.progressStream ? { stream: options.progressStream } : {}),
  });
  const indexes = table.columns.map((c) => (c.source === '' ? -1 : table.readColumns.indexOf(c.source)));
  const converts = table.columns.map((c) => (c.passThrough ? undefined : converter(c.convert)));
  const link = table.users?.linkColumn !== undefined;
  const read = () =>
    sqlite.prepare(table.select).raw(true).safeIntegers(table.safeIntegers).iterate() as IterableIterator<unknown[]>;
  // SQLite's rows go to COPY as they are when no value needs a conversion (the common, fast case).
  const asIs = !link && converts.every((c) => c === undefined) && indexes.every((at, i) => at === i);
  function* rows(): Generator<unknown[]> {
    let n = 0;
    for (const row of read()) {
      const out = new Array<unknown>(indexes.length);
      for (let i = 0; i < indexes.length; i++) {
        const at = indexes[i] as number;
        const convert = converts[i];
        out[i] = at < 0 ? null : convert ? convert(row[at]) : row[at];
      }
      if (link && authUsers) out[out.length - 1] = (authUsers[n] as AuthUser).id;
      n++;
      yield out;
    }
  }
  let count: number;
  try {
    count = await copyRowsIn(
      client,
      { schema: plan.schema, table: table.name },
      table.columns.map((c) => c.name),
      asIs ? read() : rows(),
      (n) => bar.tick(n),
    );
  } catch (err) {
    const reason = describeCopyError(sqlite, table, err);
    bar.fail(reason);
    throw new FatalError(reason);
  }
  for (const sql of table.required) await client.query(sql);
  for (const step of table.optional) await optionalStep(client, table, step, notes);
  for (const sql of table.security) await client.query(sql);
  // Identity sequences: the same grants as the table, so an insert through the API can draw an id.
  const sequences = await client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name from pg_attribute a
       join pg_class c on c.oid = pg_get_serial_sequence($1, a.attname)::regclass
       join pg_namespace n on n.oid = c.relnamespace
     where a.attrelid = $1::regclass and a.attidentity <> ''`,
    [target],
  );
  for (const s of sequences.rows)
    await client.query(
      `grant usage, select on sequence ${ident(s.schema)}.${ident(s.name)} to anon, authenticated, service_role`,
    );
  bar.done();
  return count;
}

/** An index or CHECK PostgreSQL refuses (a type that changed, rows SQLite let through): dropped, said. */
async function optionalStep(client: pg.ClientBase, table: TablePlan, step: OptionalStep, notes: Note[]): Promise<void> {
  await client.query('savepoint step');
  try {
    await client.query(step.sql);
    await client.query('release savepoint step');
  } catch (err) {
    await client.query('rollback to savepoint step');
    notes.push({ level: 'warn', table: table.name, message: `${step.what} not created: ${errorMessage(err)}` });
  }
}

/** A foreign key some rows break (SQLite enforces them only when asked): added NOT VALID, said. */
async function addForeignKey(client: pg.ClientBase, table: TablePlan, fk: OptionalStep, notes: Note[]): Promise<void> {
  await client.query('savepoint fk');
  try {
    await client.query(fk.sql);
    await client.query('release savepoint fk');
  } catch (err) {
    await client.query('rollback to savepoint fk');
    if (!isPgError(err) || err.code !== '23503') {
      notes.push({ level: 'warn', table: table.name, message: `${fk.what} not created: ${errorMessage(err)}` });
      return;
    }
    await client.query(`${fk.sql} not valid`);
    notes.push({
      level: 'warn',
      table: table.name,
      message: `${fk.what}: existing rows break it (${err.detail ?? errorMessage(err)}); added NOT VALID, so new rows are checked: fix the rows, then \`alter table … validate constraint …\``,
    });
  }
}

/** COPY's "line N, column C" (or the encoder's "row N") back to the SQLite row that holds it. */
function describeCopyError(sqlite: Database.Database, table: TablePlan, err: unknown): string {
  const where = isPgError(err) ? ((err as { where?: string }).where ?? '') : '';
  const message = err instanceof CopyValueError ? err.message : errorMessage(err);
  const line = /line (\d+)(?:, column ([^:]+))?/.exec(where) ?? /^row (\d+), column (\d+)/.exec(message);
  if (!line) return `table "${table.name}": ${message}`;
  const n = Number(line[1]);
  const key = sqlite
    .prepare(table.selectKey)
    .raw(true)
    .safeIntegers(true)
    .get(n - 1) as unknown[] | undefined;
  const column = line[2] && /^\d+$/.test(line[2]) ? table.columns[Number(line[2]) - 1]?.name : line[2];
  const row = key
    ? `${table.selectKey.includes('select rowid') ? 'rowid' : 'key'} ${key.map(String).join(', ')}`
    : `row ${n}`;
  const reason = err instanceof CopyValueError ? message.replace(/^row \d+, column \d+: /, '') : message;
  return `table "${table.name}", ${row}${column ? `, column "${column}"` : ''}: ${reason}`;
}
