/** Filters, logic trees and fields as SQL. Every value becomes a parameter; names are quoted. */
import { ApiError } from '../errors.js';
import type { Condition, Field, Filter } from './ast.js';
import { ident } from '../db/index.js';
import type { Params } from './sql.js';

/** `t."data"->$1::text->>$2::text`: JSON path keys are parameters too. */
export function fieldSql(alias: string, field: Field, params: Params): string {
  let sql = `${alias}.${ident(field.name)}`;
  for (const step of field.jsonPath) {
    sql +=
      typeof step.key === 'number'
        ? `${step.arrow}${params.add(step.key)}::int`
        : `${step.arrow}${params.add(step.key)}::text`;
  }
  return sql;
}

const COMPARISON: Partial<Record<Filter['operator'], string>> = {
  eq: '=',
  neq: '<>',
  gt: '>',
  gte: '>=',
  lt: '<',
  lte: '<=',
  like: 'like',
  ilike: 'ilike',
  match: '~',
  imatch: '~*',
  cs: '@>',
  cd: '<@',
  ov: '&&',
  sl: '<<',
  sr: '>>',
  nxl: '&>',
  nxr: '&<',
  adj: '-|-',
};
const FTS: Partial<Record<Filter['operator'], string>> = {
  fts: 'to_tsquery',
  plfts: 'plainto_tsquery',
  phfts: 'phraseto_tsquery',
  wfts: 'websearch_to_tsquery',
};

/** PostgREST writes `*` for SQL's `%` in like patterns (a URL-friendly wildcard). */
const likePattern = (value: string, operator: Filter['operator']) =>
  operator === 'like' || operator === 'ilike' ? value.replaceAll('*', '%') : value;

/** How a filter's field becomes SQL: a column by default; the read planner also knows computed fields. */
export type FieldRenderer = (field: Field) => string;

export function filterSql(alias: string, filter: Filter, params: Params, render?: FieldRenderer): string {
  const field = render ? render(filter.field) : fieldSql(alias, filter.field, params);
  const sql = positiveFilterSql(field, filter, params);
  return filter.negate ? `not (${sql})` : sql;
}

function positiveFilterSql(field: string, filter: Filter, params: Params): string {
  const { operator, value } = filter;
  if (operator === 'in') {
    const list: readonly string[] = typeof value === 'string' ? [value] : value;
    // Each element is its own parameter so PostgreSQL types it from the column.
    return list.length === 0 ? 'false' : `${field} in (${list.map((v) => params.add(v)).join(', ')})`;
  }
  if (operator === 'is') {
    switch (value) {
      case 'null':
        return `${field} is null`;
      case 'not_null':
        return `${field} is not null`;
      case 'true':
        return `${field} is true`;
      case 'false':
        return `${field} is false`;
      case 'unknown':
        return `${field} is unknown`;
      default:
        throw new ApiError(
          400,
          'PGRST100',
          `"${String(value).slice(0, 40)}" is not a valid value for is (null, not_null, true, false, unknown)`,
        );
    }
  }
  if (operator === 'isdistinct') return `${field} is distinct from ${params.add(value)}`;
  const fts = FTS[operator];
  if (fts) {
    const language = filter.language !== undefined ? `${params.add(filter.language)}::regconfig, ` : '';
    return `${field} @@ ${fts}(${language}${params.add(value)})`;
  }
  const op = COMPARISON[operator];
  if (!op) throw new ApiError(400, 'PGRST100', `"${operator}" is not a valid operator`);
  if (filter.quantifier) {
    const list: readonly string[] = typeof value === 'string' ? [value] : value;
    if (list.length === 0) return filter.quantifier === 'any' ? 'false' : 'true';
    const joiner = filter.quantifier === 'any' ? ' or ' : ' and ';
    return `(${list.map((v) => `${field} ${op} ${params.add(likePattern(v, operator))}`).join(joiner)})`;
  }
  return `${field} ${op} ${params.add(likePattern(value as string, operator))}`;
}

export function conditionSql(alias: string, condition: Condition, params: Params, render?: FieldRenderer): string {
  if (condition.kind === 'filter') return filterSql(alias, condition, params, render);
  if (condition.conditions.length === 0) return condition.negate ? 'false' : 'true';
  const joined = condition.conditions
    .map((c) => conditionSql(alias, c, params, render))
    .join(condition.operator === 'and' ? ' and ' : ' or ');
  return condition.negate ? `not (${joined})` : `(${joined})`;
}
