/**
 * Aggregates and spreads in a read's select list, as PostgREST 12/13 plans them: `count()`,
 * `col.sum()`, `avg`, `min`, `max` (with aliases and casts) group by every other selected column;
 * a to-one spread hands its aggregates up to the level that groups (PostgREST's "hoisting"); a
 * to-many spread gives each of its columns as an array on the parent row.
 *
 * plan-read.ts collects one `Output` per select item of a level; `finishLevel` turns them into the
 * select list, the lateral joins and the GROUP BY, and reports the level's columns to its parent.
 */
import { ApiError } from '../errors.js';
import type { SelectItem } from './ast.js';
import type { Relation } from './schema.js';
import { ident } from '../db/index.js';
import { castType } from './sql.js';

export type AggregateFunction = 'count' | 'sum' | 'avg' | 'min' | 'max';

/**
 * How a level's rows are used: as rows of their own (the root, an embed), as columns of the
 * parent's row (a to-one spread), or as arrays of values on the parent's row (a to-many spread).
 */
export type LevelMode = 'rows' | 'spread-one' | 'spread-many';

export type Output =
  /** `*`: expanded to the columns when the level groups or is spread (its parent needs names). */
  | { readonly kind: 'star'; readonly alias: string; readonly relation: Relation }
  /** Everything of a spread whose columns are not known (a function's open record). */
  | { readonly kind: 'all'; readonly expr: string }
  | {
      readonly kind: 'value';
      readonly expr: string;
      readonly key: string;
      /** An embed's correlated subquery: computed in a lateral join when the level groups. */
      readonly embed?: boolean;
      /** A json value (a to-many spread's array): grouped as jsonb, json having no equality. */
      readonly json?: boolean;
    }
  | {
      readonly kind: 'aggregate';
      readonly fn: AggregateFunction;
      /** The argument, already cast (`col::text.count()`), or `*` for `count()`. */
      readonly arg: string;
      /** The cast of the result: `col.sum()::int`. */
      readonly cast?: string;
      readonly key: string;
    };

/** A column a level's parent can read: its key, and the aggregate the parent applies to it. */
export interface Reported {
  readonly key?: string;
  readonly hoisted?: { readonly fn: AggregateFunction; readonly cast?: string };
}

export interface FinishedLevel {
  readonly columns: string[];
  readonly joins: string[];
  readonly groupBy: string;
  readonly reported: Reported[];
}

const NOT_ALLOWED = () =>
  new ApiError(400, 'PGRST123', 'Use of aggregate functions is not allowed', { details: null, hint: null });

/**
 * PostgREST's db-aggregates-enabled: off (its default), any aggregate in select= answers 400.
 * A bare `count` field (`messages(count)`) is not one to PostgREST: PostgreSQL reads
 * `messages_1.count` as `count(messages_1)`, so it counts with aggregates off too.
 */
export function checkAggregatesAllowed(select: readonly SelectItem[], enabled: boolean): void {
  if (enabled) return;
  for (const item of select) {
    if (item.kind === 'count' || (item.kind === 'column' && item.aggregate !== undefined)) throw NOT_ALLOWED();
    if (item.kind === 'embed') checkAggregatesAllowed(item.select, enabled);
  }
}

/** `messages(count)` on a relation without a `count` column: the rows counted (see above). */
export function isBareCount(relation: Relation, item: SelectItem): boolean {
  return (
    item.kind === 'column' &&
    item.aggregate === undefined &&
    item.field.name === 'count' &&
    item.field.jsonPath.length === 0 &&
    !relation.dynamicColumns &&
    !relation.columns.has('count')
  );
}

export function aggregateOutput(fn: AggregateFunction, arg: string, alias?: string, cast?: string): Output {
  // PostgreSQL labels an aggregate with its function's name, and PostgREST keeps that label.
  return { kind: 'aggregate', fn, arg, key: alias ?? fn, ...(cast !== undefined && { cast: castType(cast) }) };
}

/** A to-one spread's columns, read from its lateral join; its aggregates are applied here. */
export function spreadOneOutputs(spread: string, reported: readonly Reported[]): Output[] {
  return reported.map((r): Output => {
    if (r.key === undefined) return { kind: 'all', expr: `${spread}.*` };
    const expr = `${spread}.${ident(r.key)}`;
    if (r.hoisted) return aggregateOutput(r.hoisted.fn, expr, r.key, r.hoisted.cast);
    return { kind: 'value', expr, key: r.key };
  });
}

/** A to-many spread: one lateral join aggregating each of the child's columns into an array. */
export function spreadManyJoin(
  spread: string,
  sub: string,
  reported: readonly Reported[],
): { join: string; outputs: Output[] } {
  const keys = reported.map((r) => {
    if (r.key === undefined) throw notImplemented('A spread of a to-many relationship needs its columns named.');
    return r.key;
  });
  const arrays = keys.map((k) => `coalesce(json_agg(_s.${ident(k)}), '[]'::json) as ${ident(k)}`);
  return {
    join: `left join lateral (select ${arrays.join(', ')} from (${sub}) as _s) as ${spread} on true`,
    outputs: keys.map((k) => ({ kind: 'value', expr: `${spread}.${ident(k)}`, key: k, json: true })),
  };
}

/**
 * An embed's rows as its parent's columns: one object (to-one) or an array of objects (to-many),
 * correlated subqueries; a spread is a lateral join whose columns join the parent's row.
 */
export function embedOutputs(
  mode: LevelMode,
  toOne: boolean,
  sub: { readonly sql: string; readonly reported: readonly Reported[] },
  key: string,
  spreadAlias: () => string,
): { join?: string; outputs: Output[] } {
  if (mode === 'spread-one') {
    const spread = spreadAlias();
    return {
      join: `left join lateral (${sub.sql}) as ${spread} on true`,
      outputs: spreadOneOutputs(spread, sub.reported),
    };
  }
  if (mode === 'spread-many') return spreadManyJoin(spreadAlias(), sub.sql, sub.reported);
  const expr = toOne
    ? `(select row_to_json(_e) from (${sub.sql}) as _e)`
    : `coalesce((select json_agg(_e) from (${sub.sql}) as _e), '[]'::json)`;
  return { outputs: [{ kind: 'value', expr, key, embed: true }] };
}

const notImplemented = (details: string) =>
  new ApiError(400, 'PGRST127', 'Feature not implemented', { details, hint: null });

const applyAggregate = (o: Extract<Output, { kind: 'aggregate' }>) => {
  const call = `${o.fn}(${o.arg})`;
  return o.cast !== undefined ? `(${call})::${o.cast}` : call;
};

/**
 * The select list of a level, and its GROUP BY: every column that is not an aggregate, by its
 * position (a JSON path's keys are parameters, so the expression could not be repeated).
 */
export function finishLevel(outputs: readonly Output[], mode: LevelMode, nextAlias: () => string): FinishedLevel {
  const hasAggregate = outputs.some((o) => o.kind === 'aggregate');
  if (mode === 'spread-many' && hasAggregate)
    throw notImplemented('Aggregates are not implemented for one-to-many or many-to-many spreads.');
  const grouped = hasAggregate && mode === 'rows';
  const expandStars = grouped || mode !== 'rows';
  const columns: string[] = [];
  const joins: string[] = [];
  const reported: Reported[] = [];
  const groupBy: number[] = [];
  const plain = (sql: string, key?: string) => {
    columns.push(key === undefined ? sql : `${sql} as ${ident(key)}`);
    reported.push(key === undefined ? {} : { key });
    if (grouped) groupBy.push(columns.length);
  };
  for (const o of outputs) {
    switch (o.kind) {
      case 'star':
        if (!expandStars || o.relation.dynamicColumns) plain(`${o.alias}.*`);
        else for (const name of o.relation.columns.keys()) plain(`${o.alias}.${ident(name)}`, name);
        break;
      case 'all':
        plain(o.expr);
        break;
      case 'value':
        if (grouped && o.embed) {
          const lateral = nextAlias();
          joins.push(`left join lateral (select (${o.expr})::jsonb as v) as ${lateral} on true`);
          plain(`${lateral}.v`, o.key);
        } else plain(grouped && o.json ? `(${o.expr})::jsonb` : o.expr, o.key);
        break;
      case 'aggregate':
        if (mode === 'spread-one') {
          // Hoisted: the parent applies the aggregate to this raw value, over its own groups.
          columns.push(`${o.arg === '*' ? '1' : o.arg} as ${ident(o.key)}`);
          reported.push({ key: o.key, hoisted: { fn: o.fn, ...(o.cast !== undefined && { cast: o.cast }) } });
        } else {
          columns.push(`${applyAggregate(o)} as ${ident(o.key)}`);
          reported.push({ key: o.key });
        }
        break;
    }
  }
  return { columns, joins, groupBy: groupBy.length > 0 ? ` group by ${groupBy.join(', ')}` : '', reported };
}
