/**
 * Plans a read (`GET /rest/v1/table?select=…`) as one SQL statement that returns the response body
 * as JSON text, built by PostgreSQL: embedded resources are correlated subqueries aggregated with
 * json_agg (to-many) or row_to_json (to-one), spreads are lateral joins.
 */
import { ApiError } from '../errors.js';
import type { EmbedPath, Field, OrderTerm, ReadQuery, SelectItem } from './ast.js';
import { conditionSql, fieldSql } from './conditions.js';
import { embedSource, isToOne, resolveRelationship } from './relationships.js';
import type { Relation, SchemaCache } from './schema.js';
import { ident } from '../db/index.js';
import { castType, Params } from './sql.js';
import {
  aggregateOutput,
  embedOutputs,
  finishLevel,
  isBareCount,
  type LevelMode,
  type Output,
  type Reported,
} from './plan-aggregate.js';

export interface SqlPlan {
  readonly text: string;
  readonly values: unknown[];
  /**
   * The plan already answers `bytes` and withholds a body over the size cap (a data-modifying WITH
   * must stay at the top level, so writes cannot be wrapped from outside).
   */
  readonly capped?: boolean;
  /** For count=planned/estimated: the rows to count, for EXPLAIN to estimate (own parameters). */
  readonly estimate?: { readonly text: string; readonly values: unknown[] };
}

export interface ReadOptions {
  /**
   * Count the rows matching the filters (Prefer: count=…), without the limit: exactly; or planned
   * (estimated by EXPLAIN); or estimated (exactly up to maxRows, planned beyond), as PostgREST.
   */
  readonly count: 'exact' | 'planned' | 'estimated' | undefined;
  /** Most rows a response may hold (Supabase's "max rows", 1000 by default). */
  readonly maxRows: number;
  /**
   * `Accept: application/geo+json`: the body is a FeatureCollection of each row through this
   * ST_AsGeoJSON (schema-qualified, from the catalog), as PostgREST answers it.
   */
  readonly geojson?: string;
  /** `Accept: text/csv`: the body is CSV, each row in PostgreSQL's record text form (PostgREST's). */
  readonly csv?: boolean;
}

/**
 * The body the rows `_r` are aggregated into. CSV is PostgREST's: the first row's keys as the
 * header, then each row as its record text without the parentheses (PostgreSQL quotes a field with
 * a space, comma, quote or parenthesis in it, and writes NULL as nothing).
 */
function bodyOf(options: ReadOptions): string {
  if (options.geojson)
    return `json_build_object('type', 'FeatureCollection', 'features', coalesce(json_agg(${options.geojson}(_r)::json), '[]'::json))::text`;
  if (options.csv)
    return `(select coalesce(string_agg(_k, ','), '') from json_object_keys((array_agg(row_to_json(_r)))[1]) as _k) || E'\\n' || coalesce(string_agg(substring(_r::text, 2, length(_r::text) - 2), E'\\n'), '')`;
  return `coalesce(json_agg(_r), '[]'::json)::text`;
}

export interface Level {
  readonly cache: SchemaCache;
  readonly query: ReadQuery;
  readonly params: Params;
  /** Every embedded to-many resource is capped too, so one request cannot multiply rows unbounded. */
  readonly maxRows: number;
  nextAlias: number;
}

export const qualified = (r: Relation) => `${ident(r.schema)}.${ident(r.name)}`;

const samePath = (a: EmbedPath, b: EmbedPath) => a.length === b.length && a.every((s, i) => s === b[i]);

export function checkColumn(relation: Relation, name: string, label = relation.name, cache?: SchemaCache): void {
  if (!relation.dynamicColumns && !relation.columns.has(name) && !cache?.computedField?.(relation, name)) {
    throw new ApiError(400, '42703', `column ${label}.${name} does not exist`, {
      hint: null,
      details: null,
    });
  }
}

/** The SQL of one relation's rows: columns, embeds, filters, order and range at `path`. */
function levelSql(
  level: Level,
  relation: Relation,
  alias: string,
  items: readonly SelectItem[],
  path: EmbedPath,
  extraWhere: string[],
  range?: { limit?: number; offset?: number },
  from = qualified(relation),
): string {
  return levelPlan(level, relation, alias, items, path, extraWhere, range, from, 'rows').sql;
}

function levelPlan(
  level: Level,
  relation: Relation,
  alias: string,
  items: readonly SelectItem[],
  path: EmbedPath,
  extraWhere: string[],
  range: { limit?: number; offset?: number } | undefined,
  from: string,
  mode: LevelMode,
): { sql: string; reported: Reported[] } {
  const outputs: Output[] = [];
  const joins: string[] = [];
  const where = [...extraWhere];
  const embedKeys = new Set<string>();
  // PostgREST names an embedded table `name_depth`, and PostgreSQL's errors say so.
  const label = path.length === 0 ? relation.name : `${relation.name}_${path.length}`;
  for (const item of items) {
    if (item.kind === 'star') {
      outputs.push({ kind: 'star', alias, relation });
      continue;
    }
    if (item.kind === 'count') {
      outputs.push(aggregateOutput('count', '*', item.alias, item.cast));
      continue;
    }
    if (item.kind === 'column') {
      if (isBareCount(relation, item)) {
        outputs.push(aggregateOutput('count', alias, item.alias, item.cast));
        continue;
      }
      checkColumn(relation, item.field.name, label, level.cache);
      let expr = columnSql(level, relation, alias, item.field);
      if (item.cast) expr = `(${expr})::${castType(item.cast)}`;
      if (item.aggregate) {
        outputs.push(aggregateOutput(item.aggregate, expr, item.alias, item.aggregateCast));
        continue;
      }
      const lastKey = item.field.jsonPath.at(-1)?.key;
      const key = item.alias ?? (lastKey !== undefined ? String(lastKey) : item.field.name);
      outputs.push({ kind: 'value', expr, key });
      continue;
    }
    const relationship = resolveRelationship(level.cache, relation, item);
    const child = `t${level.nextAlias++}`;
    const key = item.alias ?? item.relation;
    if (embedKeys.has(key)) {
      // PostgREST names each embed's subquery after the parent and the embed: two embeds under one
      // name collide in PostgreSQL, and its error is the answer.
      throw new ApiError(
        400,
        '42712',
        `table name "${relation.name}_${key}_${path.length + 1}" specified more than once`,
        {
          details: null,
          hint: null,
        },
      );
    }
    embedKeys.add(key);
    const childPath = [...path, key];
    const source = embedSource(relationship, alias, child);
    const join = source.on;
    // An embed that selects nothing (`users()`) only filters, with !inner: PostgREST leaves it out
    // of the body. Nothing of it is planned otherwise (an unused parameter is an error).
    const empty = isEmptyEmbed(item.select);
    if (empty && item.joinType !== 'inner') continue;
    const childFilters = filtersAt(level, childPath, relationship.target, child, item.relation, path);
    const asked = rangeAt(level, childPath, item.relation, path);
    const childRange = { offset: asked?.offset, limit: Math.min(asked?.limit ?? level.maxRows, level.maxRows) };
    if (item.joinType === 'inner') {
      where.push(`exists (select 1 from ${source.from} as ${child} where ${[join, ...childFilters].join(' and ')})`);
    }
    if (empty) continue;
    const toOne = isToOne(relationship);
    const childMode: LevelMode = !item.spread ? 'rows' : toOne ? 'spread-one' : 'spread-many';
    const sub = levelPlan(
      level,
      relationship.target,
      child,
      item.select,
      childPath,
      [join, ...childFilters],
      childRange,
      source.from,
      childMode,
    );
    const embedded = embedOutputs(childMode, toOne, sub, key, () => `s${level.nextAlias++}`);
    if (embedded.join !== undefined) joins.push(embedded.join);
    outputs.push(...embedded.outputs);
  }
  const finished = finishLevel(outputs, mode, () => `l${level.nextAlias++}`);
  const columns = finished.columns.length > 0 ? finished.columns : [`${alias}.*`];
  joins.push(...finished.joins);
  const orderBy = orderAt(level, path, relation, alias);
  const limit = range?.limit !== undefined ? ` limit ${level.params.add(range.limit)}` : '';
  const offset = range?.offset ? ` offset ${level.params.add(range.offset)}` : '';
  const sql = `select ${columns.join(', ')} from ${from} as ${alias}${joins.length ? ` ${joins.join(' ')}` : ''}${where.length ? ` where ${where.join(' and ')}` : ''}${finished.groupBy}${orderBy}${limit}${offset}`;
  return { sql, reported: finished.columns.length > 0 ? finished.reported : [{}] };
}

/** Filters written for an embed apply under its alias or its relation name. */
function matchesEmbed(level: Level, path: EmbedPath, candidates: EmbedPath[]): boolean {
  return candidates.some((c) => samePath(c, path));
}

function filtersAt(
  level: Level,
  path: EmbedPath,
  relation: Relation,
  alias: string,
  relationName?: string,
  parentPath?: EmbedPath,
): string[] {
  const alternatives = relationName !== undefined && parentPath ? [path, [...parentPath, relationName]] : [path];
  return level.query.filters
    .filter((f) => matchesEmbed(level, f.path, alternatives))
    .map((f) => {
      checkConditionColumns(relation, f.condition, level.cache);
      // A computed field is called qualified, as select and order call it, not found by attribute notation.
      return conditionSql(alias, f.condition, level.params, (field) => columnSql(level, relation, alias, field));
    });
}

function checkConditionColumns(
  relation: Relation,
  condition: ReadQuery['filters'][number]['condition'],
  cache?: SchemaCache,
): void {
  if (condition.kind === 'filter') checkColumn(relation, condition.field.name, undefined, cache);
  else condition.conditions.forEach((c) => checkConditionColumns(relation, c, cache));
}

/** Only embeds, each selecting nothing, all the way down: `users()`, `a(b())`. */
function isEmptyEmbed(select: readonly SelectItem[]): boolean {
  return select.every((i) => i.kind === 'embed' && isEmptyEmbed(i.select));
}

/**
 * A column, or a computed field `f(t)`: the row is cast to the function's argument type, as it
 * may be a call's result (an anonymous record); JSON path steps apply to the call's result.
 */
function columnSql(level: Level, relation: Relation, alias: string, field: Field): string {
  const expr = fieldSql(alias, field, level.params);
  const fn = relation.columns.has(field.name) ? undefined : level.cache.computedField?.(relation, field.name);
  if (!fn) return expr;
  const call = `${ident(fn.schema)}.${ident(fn.name)}(${alias}::${qualified(relation)})`;
  return call + expr.slice(`${alias}.${ident(field.name)}`.length);
}

function rangeAt(level: Level, path: EmbedPath, relationName?: string, parentPath?: EmbedPath) {
  const alternatives = relationName !== undefined && parentPath ? [path, [...parentPath, relationName]] : [path];
  return level.query.ranges.find((r) => matchesEmbed(level, r.path, alternatives));
}

function orderAt(level: Level, path: EmbedPath, relation: Relation, alias: string): string {
  const terms = level.query.order.filter((o) => samePath(o.path, path)).flatMap((o) => o.terms);
  if (terms.length === 0) return '';
  return ` order by ${terms.map((t) => orderTermSql(level, relation, alias, t)).join(', ')}`;
}

function orderTermSql(level: Level, relation: Relation, alias: string, term: OrderTerm): string {
  let expr: string;
  if (term.relation !== undefined) {
    // Ordering by a column of a to-one embed: `order=author(name).desc`.
    const r = resolveRelationship(level.cache, relation, {
      kind: 'embed',
      relation: term.relation,
      spread: false,
      select: [],
    });
    if (!isToOne(r))
      throw new ApiError(
        400,
        'PGRST118',
        `A related order on '${term.relation}' is not possible: it is not a to-one relationship`,
      );
    checkColumn(r.target, term.field.name, undefined, level.cache);
    const child = `t${level.nextAlias++}`;
    const source = embedSource(r, alias, child);
    expr = `(select ${fieldSql(child, term.field, level.params)} from ${source.from} as ${child} where ${source.on})`;
  } else {
    checkColumn(relation, term.field.name, undefined, level.cache);
    expr = columnSql(level, relation, alias, term.field);
  }
  return `${expr}${term.direction ? ` ${term.direction}` : ''}${term.nulls ? ` nulls ${term.nulls}` : ''}`;
}

/**
 * `body`: the JSON array of rows; `page`: rows in it; `total`: rows matching the filters (when
 * counting), for Content-Range.
 */
export function planRead(cache: SchemaCache, relation: Relation, query: ReadQuery, options: ReadOptions): SqlPlan {
  const level: Level = { cache, query, params: new Params(), maxRows: options.maxRows, nextAlias: 1 };
  checkPaths(query);
  const rootFilters = filtersAt(level, [], relation, 't0');
  const requested = rangeAt(level, []);
  const limit = Math.min(requested?.limit ?? options.maxRows, options.maxRows);
  const rows = levelSql(level, relation, 't0', query.select, [], rootFilters, { limit, offset: requested?.offset });
  let total = 'null::bigint';
  let estimate: SqlPlan['estimate'];
  const counted = (l: Level) => {
    const where = [...filtersAt(l, [], relation, 'c0'), ...innerEmbedConditions(l, relation, 'c0')];
    return `from ${qualified(relation)} as c0${where.length ? ` where ${where.join(' and ')}` : ''}`;
  };
  if (options.count === 'exact') total = `(select count(*) ${counted(level)})`;
  if (options.count === 'estimated')
    total = `(select count(*) from (select 1 ${counted(level)} limit ${level.params.add(options.maxRows + 1)}) as c)`;
  if (options.count === 'planned' || options.count === 'estimated') {
    const own: Level = { ...level, params: new Params() };
    estimate = { text: `select 1 ${counted(own)}`, values: own.params.values };
  }
  return {
    text: `select ${bodyOf(options)} as body, count(_r) as page, ${total} as total from (${rows}) as _r`,
    values: level.params.values,
    estimate,
  };
}

/** `!inner` embeds filter the parent rows, so the count must apply them too. */
function innerEmbedConditions(level: Level, relation: Relation, alias: string): string[] {
  return level.query.select.flatMap((item) => {
    if (item.kind !== 'embed' || item.joinType !== 'inner') return [];
    const r = resolveRelationship(level.cache, relation, item);
    const child = `t${level.nextAlias++}`;
    const key = item.alias ?? item.relation;
    const source = embedSource(r, alias, child);
    const conds = [source.on, ...filtersAt(level, [key], r.target, child, item.relation, [])];
    return [`exists (select 1 from ${source.from} as ${child} where ${conds.join(' and ')})`];
  });
}

/**
 * The representation of written rows: `select=` (with embeds) applied to the rows a data-modifying
 * CTE named `source` returned.
 */
export function planRepresentation(
  cache: SchemaCache,
  relation: Relation,
  query: ReadQuery,
  params: Params,
  source: string,
  maxRows: number,
  applyRoot = false,
): string {
  const level: Level = { cache, query, params, maxRows, nextAlias: 1 };
  checkPaths(query);
  // Written rows were already chosen by the DML's filters; a function's rows are filtered here.
  const where = applyRoot ? filtersAt(level, [], relation, 't0') : [];
  return levelSql(level, relation, 't0', query.select, [], where, applyRoot ? rangeAt(level, []) : undefined, source);
}

/** The names an embed answers to in filter/order/limit paths: its alias and its relation. */
function embedPaths(items: readonly SelectItem[], prefix: EmbedPath, into: EmbedPath[]): EmbedPath[] {
  for (const item of items) {
    if (item.kind !== 'embed') continue;
    const names = new Set([item.alias ?? item.relation, item.relation]);
    for (const name of names) {
      into.push([...prefix, name]);
      embedPaths(item.select, [...prefix, name], into);
    }
  }
  return into;
}

/**
 * A filter, order or limit on `rel.…` needs `rel` embedded in `select=`; PostgREST answers 400
 * (PGRST108) otherwise, and silently ignoring it would return, change or delete more rows than asked.
 */
export function checkPaths(query: ReadQuery): void {
  const known = embedPaths(query.select, [], []);
  const used = [
    ...query.filters.map((f) => f.path),
    ...query.order.map((o) => o.path),
    ...query.ranges.map((r) => r.path),
  ];
  for (const path of used) {
    if (path.length > 0 && !known.some((k) => samePath(k, path))) {
      throw new ApiError(400, 'PGRST108', `'${path.join('.')}' is not an embedded resource in this request`, {
        details: null,
        hint: `Verify that '${path.join('.')}' is included in the 'select' query parameter.`,
      });
    }
  }
}

/** `order by …` for a statement's root, outside a read (limited PATCH/DELETE). */
export function rootOrderSql(
  cache: SchemaCache,
  relation: Relation,
  query: ReadQuery,
  params: Params,
  alias: string,
): string {
  const level: Level = { cache, query, params, maxRows: 0, nextAlias: 1 };
  return orderAt(level, [], relation, alias);
}
