/**
 * Which subscribers may see a change. Two questions, each asked of PostgreSQL once per change:
 *
 * - Filters: every distinct `column=op.value` condition among the candidates is evaluated in one
 *   statement, with PostgreSQL's own casts and operators for the column's type.
 * - Row-level security: subscribers are grouped by their exact claims; one call of
 *   realtime.trellis_visible_to (src/sql/0040_realtime_changes.sql) looks the row up once per
 *   group as that group's role and claims. Supabase's Realtime does one lookup per subscriber.
 *
 * `perSubscriber` is that Supabase way (one transaction per subscriber), kept as the benchmark's
 * peer and as a reference the tests compare against.
 */
import { pgIdent, type Db } from '../../db/pool.js';
import type { TableInfo } from './catalog.js';
import type { FilterCondition } from './filter.js';

export type AuthorisationMode = 'batched' | 'perSubscriber';

/** Above this many claim groups, a change's lookup is split over parallel calls. */
const GROUPS_PER_CALL = 250;
const MAX_PARALLEL_CALLS = 4;

const COMPARISONS: Readonly<Record<string, string>> = {
  eq: '=',
  neq: '<>',
  lt: '<',
  lte: '<=',
  gt: '>',
  gte: '>=',
  like: '~~',
  ilike: '~~*',
  match: '~',
  imatch: '~*',
};

/** A condition as SQL over `$col` (the column's value as text) and `$val` placeholders. */
export function conditionSql(condition: FilterCondition, sqlType: string, col: string, val: string): string {
  const left = `${col}::${sqlType}`;
  let expr: string;
  if (condition.op === 'in') expr = `${left} = any (${val}::${sqlType}[])`;
  else if (condition.op === 'is') expr = `${left} is ${condition.value === 'null' ? 'null' : (condition.value as string)}`;
  else if (condition.op === 'isdistinct') expr = `${left} is distinct from ${val}::${sqlType}`;
  else expr = `${left} ${COMPARISONS[condition.op] ?? '='} ${val}::${sqlType}`;
  return condition.negate ? `not coalesce(${expr}, false)` : `coalesce(${expr}, false)`;
}

/** Evaluates conditions against a row's text values in one statement; true where a condition holds. */
export async function evaluateConditions(
  db: Db,
  table: TableInfo,
  conditions: readonly FilterCondition[],
  row: Readonly<Record<string, string | null>>,
): Promise<boolean[]> {
  if (conditions.length === 0) return [];
  const values: unknown[] = [];
  const param = (v: unknown) => {
    values.push(v);
    return `$${values.length}`;
  };
  const parts = conditions.map((c) => {
    const column = table.byName.get(c.column);
    if (!column) return 'false';
    const val = c.op === 'is' ? '' : param(c.value);
    return conditionSql(c, column.sqlType, param(row[c.column] ?? null), val);
  });
  const result = await db.withClaims({ role: 'service_role' }, (tx) => tx.query<{ r: boolean[] }>(`select array[${parts.join(', ')}] as r`, values), {
    readOnly: true,
  });
  return result.rows[0]?.r ?? conditions.map(() => false);
}

/** Checks at subscribe time that a condition's value fits its column (cast and operator exist). */
export async function checkCondition(db: Db, table: TableInfo, condition: FilterCondition): Promise<string | undefined> {
  const column = table.byName.get(condition.column);
  if (!column) return `column "${condition.column}" does not exist in ${table.schema}.${table.table}`;
  const sql = conditionSql(condition, column.sqlType, '$1', condition.op === 'is' ? '' : '$2');
  const values = condition.op === 'is' ? [null] : [null, condition.value];
  try {
    await db.withClaims({ role: 'service_role' }, (tx) => tx.query(`select ${sql}`, values), { readOnly: true });
    return undefined;
  } catch (err) {
    return `invalid filter on ${condition.column} (${column.sqlType}): ${(err as Error).message}`;
  }
}

export interface ClaimGroup {
  readonly role: string;
  /** `request.jwt.claims` as the group's members carry it. */
  readonly claims: string;
}

/** For each group, whether its role and claims may SELECT the row with primary key `key`. */
export async function visibleTo(
  db: Db,
  table: TableInfo,
  key: Readonly<Record<string, string | null>>,
  groups: readonly ClaimGroup[],
  mode: AuthorisationMode,
  /** The change's transaction (from the WAL); lookups wait until it is visible. */
  xid?: number,
): Promise<boolean[]> {
  if (groups.length === 0) return [];
  if (mode === 'perSubscriber') {
    if (xid !== undefined) await waitVisible(db, xid);
    return Promise.all(groups.map((g) => lookupOrDeny(db, table, key, g)));
  }
  // The function switches role only between runs of one role: hand it the groups sorted by role.
  const order = groups.map((_, i) => i).sort((a, b) => ((groups[a]?.role ?? '') < (groups[b]?.role ?? '') ? -1 : 1));
  const sorted = order.map((i) => groups[i] as ClaimGroup);
  const answers = await visibleSorted(db, table, key, sorted, xid);
  const out: boolean[] = new Array<boolean>(groups.length).fill(false);
  order.forEach((original, i) => (out[original] = answers[i] === true));
  return out;
}

async function visibleSorted(
  db: Db,
  table: TableInfo,
  key: Readonly<Record<string, string | null>>,
  groups: readonly ClaimGroup[],
  xid: number | undefined,
): Promise<boolean[]> {
  const calls: Promise<boolean[]>[] = [];
  const size = Math.max(GROUPS_PER_CALL, Math.ceil(groups.length / MAX_PARALLEL_CALLS));
  for (let i = 0; i < groups.length; i += size) {
    const chunk = groups.slice(i, i + size);
    calls.push(
      db
        .withClaims({ role: 'service_role' }, (tx) =>
          tx.query<{ v: boolean[] }>('select realtime.trellis_visible_to($1::oid::regclass, $2::jsonb, $3::text[], $4::text[], $5::bigint) as v', [
            table.oid,
            JSON.stringify(key),
            chunk.map((g) => g.role),
            chunk.map((g) => g.claims),
            xid ?? null,
          ]),
        )
        .then((r) => r.rows[0]?.v ?? chunk.map(() => false)),
    );
  }
  return (await Promise.all(calls)).flat();
}

/**
 * The WAL carries a commit a moment before the transaction is visible to new snapshots; a lookup
 * in that moment would miss the row. Waits (bounded) until it is visible.
 */
async function waitVisible(db: Db, xid: number): Promise<void> {
  for (let attempt = 0; attempt < 2000; attempt++) {
    const { rows } = await db.withClaims({ role: 'service_role' }, (tx) => tx.query<{ v: boolean }>('select realtime.trellis_committed_visible($1) as v', [xid]), { readOnly: true });
    if (rows[0]?.v) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Supabase's way: a transaction per subscriber, as its role with its claims, looking the row up. */
async function lookupAs(db: Db, table: TableInfo, key: Readonly<Record<string, string | null>>, group: ClaimGroup): Promise<boolean> {
  const keyColumns = table.columns.filter((c) => c.isKey);
  const where = keyColumns.map((c, i) => `${pgIdent(c.name)} = $${i + 1}::${c.sqlType}`).join(' and ');
  const claims = JSON.parse(group.claims) as { role: string };
  const result = await db.withClaims(
    { ...claims, role: group.role },
    (tx) =>
      tx.query<{ v: boolean }>(
        `select exists (select 1 from ${pgIdent(table.schema)}.${pgIdent(table.table)} where ${where}) as v`,
        keyColumns.map((c) => key[c.name]),
      ),
    { readOnly: true },
  );
  return result.rows[0]?.v === true;
}

function lookupOrDeny(db: Db, table: TableInfo, key: Readonly<Record<string, string | null>>, group: ClaimGroup): Promise<boolean> {
  // No SELECT grant: PostgreSQL refuses the lookup, and the subscriber sees nothing.
  return lookupAs(db, table, key, group).catch(() => false);
}
