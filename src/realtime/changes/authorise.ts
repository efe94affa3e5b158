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
import { ident, type Db } from '../../db/index.js';
import type { TableInfo } from './catalog.js';
import type { FilterCondition } from './filter.js';

export type AuthorisationMode = 'batched' | 'perSubscriber';

/** Above this many lookups (claim groups x rows), the work is split over parallel calls. */
const LOOKUPS_PER_CALL = 250;
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
  else if (condition.op === 'is')
    expr = `${left} is ${condition.value === 'null' ? 'null' : (condition.value as string)}`;
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
  const result = await db.withClaims(
    { role: 'service_role' },
    (tx) => tx.query<{ r: boolean[] }>(`select array[${parts.join(', ')}] as r`, values),
    {
      readOnly: true,
    },
  );
  return result.rows[0]?.r ?? conditions.map(() => false);
}

/** Checks at subscribe time that a condition's value fits its column (cast and operator exist). */
export async function checkCondition(
  db: Db,
  table: TableInfo,
  condition: FilterCondition,
): Promise<string | undefined> {
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

export type RowKey = Readonly<Record<string, string | null>>;

/**
 * For each row (by primary key) and each group: whether the group's role and claims may SELECT
 * the row. `answers[row][group]`. The rows are those of one transaction on one table.
 */
export async function visibleTo(
  db: Db,
  table: TableInfo,
  keys: readonly RowKey[],
  groups: readonly ClaimGroup[],
  mode: AuthorisationMode,
  /** The changes' transaction (from the WAL); lookups wait until it is visible. */
  xid?: number,
): Promise<boolean[][]> {
  if (groups.length === 0 || keys.length === 0) return keys.map(() => groups.map(() => false));
  if (mode === 'perSubscriber') {
    if (xid !== undefined) await waitVisible(db, xid);
    return Promise.all(keys.map((key) => Promise.all(groups.map((g) => lookupOrDeny(db, table, key, g)))));
  }
  // The function switches role only between runs of one role: hand it the groups sorted by role.
  const order = groups.map((_, i) => i).sort((a, b) => ((groups[a]?.role ?? '') < (groups[b]?.role ?? '') ? -1 : 1));
  const sorted = order.map((i) => groups[i] as ClaimGroup);
  // Calls of at most LOOKUPS_PER_CALL lookups (groups x rows), up to MAX_PARALLEL_CALLS at a time.
  const groupSize = Math.min(sorted.length, Math.max(LOOKUPS_PER_CALL, Math.ceil(sorted.length / MAX_PARALLEL_CALLS)));
  const keySize = Math.max(1, Math.floor(LOOKUPS_PER_CALL / groupSize));
  const calls: { g: number; k: number; groups: ClaimGroup[]; keys: RowKey[] }[] = [];
  for (let g = 0; g < sorted.length; g += groupSize) {
    for (let k = 0; k < keys.length; k += keySize)
      calls.push({ g, k, groups: sorted.slice(g, g + groupSize), keys: keys.slice(k, k + keySize) });
  }
  const answers: boolean[][] = keys.map(() => new Array<boolean>(groups.length).fill(false));
  let next = 0;
  const worker = async () => {
    while (next < calls.length) {
      const call = calls[next++] as (typeof calls)[number];
      const flat = await lookupCall(db, table, call.keys, call.groups, xid);
      call.groups.forEach((_, gi) =>
        call.keys.forEach((_, ki) => {
          const row = answers[call.k + ki] as boolean[];
          row[order[call.g + gi] as number] = flat[gi * call.keys.length + ki] === true;
        }),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(MAX_PARALLEL_CALLS, calls.length) }, worker));
  return answers;
}

async function lookupCall(
  db: Db,
  table: TableInfo,
  keys: readonly RowKey[],
  groups: readonly ClaimGroup[],
  xid: number | undefined,
): Promise<boolean[]> {
  const result = await db.withClaims({ role: 'service_role' }, (tx) =>
    tx.query<{ v: boolean[] }>(
      'select realtime.trellis_visible_to($1::oid::regclass, $2::jsonb[], $3::text[], $4::text[], $5::bigint) as v',
      [
        table.oid,
        keys.map((key) => JSON.stringify(key)),
        groups.map((g) => g.role),
        groups.map((g) => g.claims),
        xid ?? null,
      ],
    ),
  );
  return result.rows[0]?.v ?? [];
}

/**
 * The WAL carries a commit a moment before the transaction is visible to new snapshots; a lookup
 * in that moment would miss the row. Waits (bounded) until it is visible.
 */
async function waitVisible(db: Db, xid: number): Promise<void> {
  for (let attempt = 0; attempt < 2000; attempt++) {
    const { rows } = await db.withClaims(
      { role: 'service_role' },
      (tx) => tx.query<{ v: boolean }>('select realtime.trellis_committed_visible($1) as v', [xid]),
      { readOnly: true },
    );
    if (rows[0]?.v) return;
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

/** Supabase's way: a transaction per subscriber, as its role with its claims, looking the row up. */
async function lookupAs(db: Db, table: TableInfo, key: RowKey, group: ClaimGroup): Promise<boolean> {
  const keyColumns = table.columns.filter((c) => c.isKey);
  const where = keyColumns.map((c, i) => `${ident(c.name)} = $${i + 1}::${c.sqlType}`).join(' and ');
  const claims = JSON.parse(group.claims) as { role: string };
  const result = await db.withClaims(
    { ...claims, role: group.role },
    (tx) =>
      tx.query<{ v: boolean }>(
        `select exists (select 1 from ${ident(table.schema)}.${ident(table.table)} where ${where}) as v`,
        keyColumns.map((c) => key[c.name]),
      ),
    { readOnly: true },
  );
  return result.rows[0]?.v === true;
}

function lookupOrDeny(db: Db, table: TableInfo, key: RowKey, group: ClaimGroup): Promise<boolean> {
  // No SELECT grant: PostgreSQL refuses the lookup, and the subscriber sees nothing.
  return lookupAs(db, table, key, group).catch(() => false);
}
