/**
 * What follows a table's data in the plan: its keys, identity sequence, indexes, CHECKs, foreign
 * keys, row security and the policy to write next. Pure.
 */
import { ident } from '../db/index.js';
import { translateExpression } from './sqlite-expr.js';
import type { ColumnPlan, Note, OptionalStep, SqliteTable, TableContext } from './sqlite-schema.js';
import { parseChecks, parseIndexWhere, tokensText } from './sqlite-sql.js';

interface StepContext extends TableContext {
  readonly target: string;
  readonly columns: readonly ColumnPlan[];
  readonly pkColumns: readonly string[];
  readonly rowidAlias: string | undefined;
  note(level: Note['level'], message: string): void;
}

const ACTIONS = new Set(['CASCADE', 'SET NULL', 'SET DEFAULT', 'RESTRICT', 'NO ACTION']);
const OWNER = ['user_id', 'owner_id', 'author_id', 'sender_id', 'created_by', 'profile_id'];
const list = (names: readonly string[]): string => names.map(ident).join(', ');

export function planSteps(
  table: SqliteTable,
  ctx: StepContext,
): {
  required: string[];
  optional: OptionalStep[];
  foreignKeys: OptionalStep[];
  security: string[];
  policyHint: string;
} {
  const kept = new Set(ctx.columns.map((c) => c.name));
  const types = new Map(ctx.columns.map((c) => [c.name, c.type]));
  const required: string[] = [];
  // Keys after the data: one sort per index instead of an index update per row.
  if (ctx.pkColumns.length > 0) required.push(`alter table ${ctx.target} add primary key (${list(ctx.pkColumns)})`);
  if (ctx.users?.mode === 'uuid')
    required.push(
      `alter table ${ctx.target} add foreign key (${ident(ctx.users.idColumn)}) references auth.users (id) on delete cascade`,
    );
  const optional: OptionalStep[] = [];
  for (const index of table.indexes) {
    if (index.origin === 'pk') continue;
    const names = index.columns.map((c) => c.name);
    if (names.some((n) => n === null)) {
      ctx.note('warn', `index "${index.name}": on an expression, not imported (recreate it in a migration)`);
      continue;
    }
    if (names.some((n) => !kept.has(n as string))) {
      ctx.note('warn', `index "${index.name}": on a column that is not imported, skipped`);
      continue;
    }
    const cols = index.columns.map((c) => `${ident(c.name as string)}${c.desc ? ' desc' : ''}`).join(', ');
    if (index.columns.some((c) => c.collation.toUpperCase() === 'NOCASE'))
      ctx.note('warn', `index "${index.name}": COLLATE NOCASE dropped, PostgreSQL compares case-sensitively`);
    if (index.origin === 'u') {
      required.push(`alter table ${ctx.target} add unique (${cols.replaceAll(' desc', '')})`);
      continue;
    }
    let where = '';
    if (index.partial) {
      const tokens = index.sql ? parseIndexWhere(index.sql) : undefined;
      const t = tokens ? translateExpression(tokens, types) : { error: 'no WHERE found' };
      if ('error' in t) {
        ctx.note(
          'warn',
          `partial index "${index.name}": WHERE ${tokens ? tokensText(tokens) : '?'} not translated (${t.error}), skipped`,
        );
        continue;
      }
      where = ` where ${t.sql}`;
    }
    optional.push({
      sql: `create ${index.unique ? 'unique ' : ''}index ${ident(index.name)} on ${ctx.target} (${cols})${where}`,
      what: `index "${index.name}"`,
    });
  }
  for (const check of parseChecks(table.sql)) {
    const text = tokensText(check.tokens);
    const t = translateExpression(check.tokens, types);
    if ('error' in t) {
      ctx.note('warn', `CHECK (${text}) not translated (${t.error}), dropped`);
      continue;
    }
    optional.push({
      sql: `alter table ${ctx.target} add ${check.name ? `constraint ${ident(check.name)} ` : ''}check (${t.sql})`,
      what: `CHECK (${text})`,
    });
  }
  if (ctx.rowidAlias)
    required.push(
      `select setval(pg_get_serial_sequence('${ctx.target.replaceAll("'", "''")}', '${ctx.rowidAlias.replaceAll("'", "''")}'), greatest(coalesce(max(${ident(ctx.rowidAlias)}), 0), ${table.sequence ?? 0n}) + 1, false) from ${ctx.target}`,
    );
  const foreignKeys = planForeignKeys(table, ctx, kept);
  const security = [
    `alter table ${ctx.target} enable row level security`,
    `grant all on table ${ctx.target} to anon, authenticated, service_role`,
  ];
  return { required, optional, foreignKeys, security, policyHint: policyHint(table, ctx) };
}

function planForeignKeys(table: SqliteTable, ctx: StepContext, kept: ReadonlySet<string>): OptionalStep[] {
  const steps: OptionalStep[] = [];
  for (const fk of table.foreignKeys) {
    const what = `foreign key (${fk.from.join(', ')}) → ${fk.table}`;
    const parent = ctx.tables.find((t) => t.name === fk.table);
    if (!parent || !ctx.imported.has(fk.table)) {
      ctx.note('warn', `${what}: "${fk.table}" is not imported, the key is dropped`);
      continue;
    }
    const to =
      fk.to.length > 0
        ? fk.to
        : parent.columns
            .filter((c) => c.pk > 0)
            .sort((a, b) => a.pk - b.pk)
            .map((c) => c.name);
    if (to.length !== fk.from.length || fk.from.some((c) => !kept.has(c))) {
      ctx.note('warn', `${what}: its columns do not match, the key is dropped`);
      continue;
    }
    const actions = [
      ACTIONS.has(fk.onDelete.toUpperCase()) && fk.onDelete.toUpperCase() !== 'NO ACTION'
        ? ` on delete ${fk.onDelete.toLowerCase()}`
        : '',
      ACTIONS.has(fk.onUpdate.toUpperCase()) && fk.onUpdate.toUpperCase() !== 'NO ACTION'
        ? ` on update ${fk.onUpdate.toLowerCase()}`
        : '',
    ].join('');
    steps.push({
      sql: `alter table ${ctx.target} add foreign key (${list(fk.from)}) references ${ident(ctx.schema)}.${ident(fk.table)} (${list(to)})${actions}`,
      what,
    });
  }
  return steps;
}

/** The `create policy` a user most likely wants next, for the table as imported. */
function policyHint(table: SqliteTable, ctx: StepContext): string {
  const head = `create policy "signed-in users read their rows" on ${ctx.target} for select to authenticated using`;
  if (ctx.users) {
    const column = ctx.users.mode === 'uuid' ? ctx.users.idColumn : (ctx.users.linkColumn as string);
    return `${head} (${ident(column)} = auth.uid());`;
  }
  const types = new Map(ctx.columns.map((c) => [c.name, c.type]));
  const owner = OWNER.find((name) => types.get(name) === 'uuid');
  if (owner) return `${head} (${ident(owner)} = auth.uid());`;
  // A column that references the users table: its uuid, or (integer ids) the users row of auth.uid().
  const viaUsers = table.foreignKeys.find((fk) => fk.table === ctx.usersTable && fk.from.length === 1);
  const column = viaUsers?.from[0];
  if (column !== undefined && ctx.usersTable) {
    if (ctx.usersMode === 'uuid') return `${head} (${ident(column)} = auth.uid());`;
    return `${head} (${ident(column)} = (select id from ${ident(ctx.schema)}.${ident(ctx.usersTable)} where ${ident(ctx.usersLink ?? 'user_id')} = auth.uid()));`;
  }
  return `create policy "signed-in users read" on ${ctx.target} for select to authenticated using (true);`;
}
