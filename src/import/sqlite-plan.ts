/**
 * The import plan: a SQLite schema with its value profiles → PostgreSQL DDL, the steps after the
 * data, and every decision with its reason. Pure: the reader gives the schema, the loader runs the plan.
 */
import { ident } from '../db/index.js';
import { FatalError } from '../errors.js';
import type { ColumnProfile } from './sqlite-profile.js';
import { emptyProfile } from './sqlite-profile.js';
import { planSteps } from './sqlite-plan-steps.js';
import type {
  ColumnPlan,
  ImportPlan,
  Note,
  SqliteSchema,
  SqliteTable,
  TableContext,
  TablePlan,
  UsersOptions,
  UsersPlan,
} from './sqlite-schema.js';
import { sqliteIdent } from './sqlite-sql.js';
import { decideType, translateDefault } from './sqlite-types.js';

export interface PlanOptions {
  readonly schema: string;
  readonly users?: UsersOptions;
}

/** Names whose columns hold secrets: with RLS on they are safe, but a careless policy would publish them. */
const SECRET = /(^|_)(pass(word)?|passwd|pwd|secret|token|api_?key|private_?key|salt|hash|otp)(_|$)|password|secret/i;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const CREATED_AT = ['created_at', 'createdat', 'created', 'inserted_at', 'signup_date', 'joined_at', 'registered_at'];

export function planImport(source: SqliteSchema, options: PlanOptions): ImportPlan {
  const notes: Note[] = source.skipped.map((s) => ({
    level: s.internal ? 'info' : 'warn',
    table: s.name,
    message: `not imported: ${s.reason}`,
  }));
  checkNames(source.tables);
  const users = options.users ? planUsers(source, options.users) : undefined;
  const uuidColumns = users ? uuidReferences(source, options.users as UsersOptions, users) : new Set<string>();
  const imported = new Set(source.tables.map((t) => t.name));
  const tables = source.tables.map((table) =>
    planTable(table, {
      schema: options.schema,
      users: table.name === options.users?.table ? users : undefined,
      usersTable: options.users?.table,
      usersMode: users?.mode,
      usersLink: users?.linkColumn,
      uuidColumns,
      imported,
      tables: source.tables,
      notes,
    }),
  );
  return { schema: options.schema, tables, notes };
}

/** PostgreSQL keeps 63 bytes of a name: two long names could become one. NUL cannot be in a name. */
function checkNames(tables: readonly SqliteTable[]): void {
  const seen = new Map<string, string>();
  for (const t of tables) {
    for (const name of [t.name, ...t.columns.map((c) => c.name)])
      if (name.includes('\u0000')) throw new FatalError(`table "${t.name}": the name "${name}" holds a NUL character`);
    const key = Buffer.from(t.name).subarray(0, 63).toString();
    const other = seen.get(key);
    if (other !== undefined)
      throw new FatalError(
        `tables "${other}" and "${t.name}" have the same first 63 bytes, all PostgreSQL keeps of a name`,
      );
    seen.set(key, t.name);
  }
}

function planUsers(source: SqliteSchema, o: UsersOptions): UsersPlan {
  const table = source.tables.find((t) => t.name === o.table);
  if (!table)
    throw new FatalError(
      `no table "${o.table}" in the SQLite database (tables: ${source.tables.map((t) => t.name).join(', ') || 'none'})`,
      '--users-table',
    );
  const names = table.columns.map((c) => c.name);
  const need = (column: string, flag: string): void => {
    if (!names.includes(column))
      throw new FatalError(`table "${o.table}" has no column "${column}" (columns: ${names.join(', ')})`, flag);
  };
  need(o.emailColumn, '--email-column');
  need(o.passwordColumn, '--password-column');
  need(o.idColumn, '--id-column');
  const id = table.profiles.get(o.idColumn) ?? emptyProfile();
  const mode =
    id.nonNull > 0 && id.texts === id.nonNull && id.uuid ? 'uuid' : id.integers === id.nonNull ? 'integer' : undefined;
  if (!mode)
    throw new FatalError(
      `column "${o.table}"."${o.idColumn}" holds neither UUIDs nor integers only (${id.firstNotUuid?.row ?? 'a row'} holds '${id.firstNotUuid?.value ?? '?'}')`,
      '--id-column',
    );
  const createdAtColumn = names.find((n) => CREATED_AT.includes(n.toLowerCase()));
  const linkColumn = mode === 'integer' ? (names.includes('user_id') ? 'auth_user_id' : 'user_id') : undefined;
  return {
    emailColumn: o.emailColumn,
    passwordColumn: o.passwordColumn,
    idColumn: o.idColumn,
    mode,
    ...(linkColumn ? { linkColumn } : {}),
    ...(createdAtColumn ? { createdAtColumn } : {}),
  };
}

/** With UUID user ids, the users id and every column referencing it become uuid, so the keys still hold. */
function uuidReferences(source: SqliteSchema, o: UsersOptions, users: UsersPlan): Set<string> {
  const set = new Set<string>();
  if (users.mode !== 'uuid') return set;
  set.add(`${o.table}\u0000${o.idColumn}`);
  for (const t of source.tables)
    for (const fk of t.foreignKeys) {
      if (fk.table !== o.table) continue;
      fk.from.forEach((from, i) => {
        if ((fk.to[i] ?? o.idColumn) === o.idColumn) set.add(`${t.name}\u0000${from}`);
      });
    }
  return set;
}

function planTable(table: SqliteTable, ctx: TableContext): TablePlan {
  const note = (level: Note['level'], message: string): void => {
    ctx.notes.push({ level, table: table.name, message });
  };
  const pkColumns = table.columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  const rowidAlias =
    !table.withoutRowid && pkColumns.length === 1 && pkColumns[0]?.declared.trim().toUpperCase() === 'INTEGER'
      ? pkColumns[0].name
      : undefined;
  const columns: ColumnPlan[] = [];
  let safeIntegers = false;
  for (const c of table.columns) {
    if (ctx.users && c.name === ctx.users.passwordColumn) {
      note('info', `"${c.name}": moved to auth.users.encrypted_password, never into a public table`);
      continue;
    }
    const profile: ColumnProfile = table.profiles.get(c.name) ?? emptyProfile();
    const decision = decideType(
      {
        declared: c.declared,
        rowidAlias: c.name === rowidAlias,
        wantUuid: ctx.uuidColumns.has(`${table.name}\u0000${c.name}`),
      },
      profile,
    );
    if (profile.nul && decision.convert !== 'bytea')
      throw new FatalError(
        `table "${table.name}", column "${c.name}": ${profile.nul.row} holds a NUL character, which PostgreSQL text cannot store (nothing was imported; remove it, e.g. update … set ${c.name} = replace(${c.name}, char(0), ''))`,
      );
    const parts = [ident(c.name), decision.type];
    if (c.name === rowidAlias) parts.push('generated by default as identity');
    if (c.notNull || c.name === rowidAlias) parts.push('not null');
    if (c.defaultSql !== null && c.name !== rowidAlias) {
      const d = translateDefault(c.defaultSql, decision.type, decision.convert);
      if ('error' in d) note('warn', `"${c.name}": ${d.error}`);
      else if (d.sql !== undefined) parts.push(`default ${d.sql}`);
    }
    if (c.generated)
      note('warn', `"${c.name}": a generated column in SQLite, imported as a plain column with its current values`);
    note(
      decision.warning ? 'warn' : 'info',
      `"${c.name}": ${c.declared || 'no type'} → ${decision.type}: ${decision.reason}`,
    );
    if (SECRET.test(c.name) && !(ctx.users && c.name === ctx.users.passwordColumn))
      note(
        'warn',
        `"${c.name}" looks like a secret: keep it out of every select policy (RLS is on with no policy, so nothing reads it yet)`,
      );
    const { convert } = decision;
    const passThrough =
      convert === 'text'
        ? profile.texts === profile.nonNull
        : convert === 'timestamptz'
          ? profile.integers === 0
          : convert === 'bytea'
            ? profile.blobs === profile.nonNull
            : convert !== 'boolean';
    if (
      (convert === 'text' && profile.integers > 0) ||
      (profile.minInteger !== undefined && profile.minInteger < -MAX_SAFE) ||
      (profile.maxInteger !== undefined && profile.maxInteger > MAX_SAFE)
    )
      safeIntegers = true;
    columns.push({
      source: c.name,
      name: c.name,
      type: decision.type,
      convert,
      passThrough,
      reason: decision.reason,
      definition: parts.join(' '),
    });
  }
  if (ctx.users?.linkColumn)
    columns.push({
      source: '',
      name: ctx.users.linkColumn,
      type: 'uuid',
      convert: 'uuid',
      passThrough: true,
      reason: 'the auth.users id of this row (the integer id stays, so every foreign key holds)',
      definition: `${ident(ctx.users.linkColumn)} uuid not null unique references auth.users (id) on delete cascade`,
    });
  if (pkColumns.length === 0)
    note('warn', 'no primary key: the data API reads it, but cannot update or delete single rows by key');
  const target = `${ident(ctx.schema)}.${ident(table.name)}`;
  const steps = planSteps(table, {
    ...ctx,
    target,
    columns,
    pkColumns: pkColumns.map((c) => c.name),
    rowidAlias,
    note,
  });
  const order = table.withoutRowid ? pkColumns.map((c) => sqliteIdent(c.name)).join(', ') || '1' : 'rowid';
  const read = table.columns.map((c) => sqliteIdent(c.name)).join(', ');
  const key = table.withoutRowid ? pkColumns.map((c) => sqliteIdent(c.name)).join(', ') || read : 'rowid';
  return {
    source: table.name,
    name: table.name,
    columns,
    readColumns: table.columns.map((c) => c.name),
    create: `create table ${target} (${columns.map((c) => c.definition).join(', ')})`,
    ...steps,
    rowCount: table.rowCount,
    safeIntegers,
    select: `select ${read} from ${sqliteIdent(table.name)} order by ${order}`,
    selectKey: `select ${key} from ${sqliteIdent(table.name)} order by ${order} limit 1 offset ?`,
    ...(ctx.users ? { users: ctx.users } : {}),
  };
}
