/**
 * The PostgREST query grammar as a pure function of the query string: `select`, filters,
 * `and`/`or` trees, `order`, `limit`/`offset`. It follows PostgREST 12's own parser
 * (src/PostgREST/ApiRequest/QueryParams.hs): the same names, quoting, whitespace and error shape
 * (400 PGRST100, message `"failed to parse filter (…)" (line 1, column N)`, parsec-style details).
 * Where PostgREST silently ignores input (text after `in.(…)`, `is.null`, `or=(…)`, `select`,
 * a non-numeric limit) this parser refuses it: a typo should not widen a query.
 *
 * This file routes the params and parses `order`; the grammar's shared parts are in
 * parse-grammar.ts, `select=` in parse-select.ts, filters and and/or trees in parse-filter.ts.
 */
import type { Condition, EmbedPath, Field, OrderTerm, ReadQuery, SelectItem } from './ast.js';
import { filterFrom, logicParam } from './parse-filter.js';
import {
  DELIMITER,
  END,
  ParseFailure,
  describe,
  field,
  fieldName,
  jsonPath,
  parseError,
  run,
  token,
  treePath,
  type Cursor,
} from './parse-grammar.js';
import { parseSelect } from './parse-select.js';

export { parseFilter, parseLogic } from './parse-filter.js';
export { parseSelect } from './parse-select.js';

/** Params PostgREST reads elsewhere (writes, auth), never as filters. */
const RESERVED_PARAMS = new Set(['select', 'columns', 'on_conflict', 'apikey']);

// ---------------------------------------------------------------------------------------------
// order

function orderTerm(c: Cursor): OrderTerm {
  c.skipSpaces();
  const name = fieldName(c);
  let relation: string | undefined;
  let target: Field;
  if (c.eat('(')) {
    relation = name;
    target = field(c);
    c.expect(')');
  } else {
    target = { name, jsonPath: jsonPath(c) };
  }
  c.skipSpaces();
  let direction: 'asc' | 'desc' | undefined;
  let nulls: 'first' | 'last' | undefined;
  while (c.peek() === '.' && nulls === undefined) {
    const at = ++c.pos;
    if (direction === undefined && (c.eat('asc') || c.eat('desc')))
      direction = c.text.charAt(at) === 'a' ? 'asc' : 'desc';
    else if (c.eat('nullsfirst')) nulls = 'first';
    else if (c.eat('nullslast')) nulls = 'last';
    else {
      const nullsOnly = [token('nullsfirst'), token('nullslast')];
      c.fail(direction === undefined ? [token('asc'), token('desc'), ...nullsOnly] : nullsOnly, at);
    }
  }
  c.skipSpaces();
  if (!c.done && c.peek() !== ',') c.fail([...(nulls === undefined ? [DELIMITER] : []), token(','), END]);
  return {
    field: target,
    ...(direction !== undefined && { direction }),
    ...(nulls !== undefined && { nulls }),
    ...(relation !== undefined && { relation }),
  };
}

// ---------------------------------------------------------------------------------------------
// Public API

export function parseOrder(text: string): OrderTerm[] {
  return run(`failed to parse order (${text})`, text, (c) => {
    const terms = [orderTerm(c)];
    while (c.eat(',')) terms.push(orderTerm(c));
    return terms;
  });
}

/** Routes every param of a read: select, order, limit/offset, and/or, filters; each may target an embed. */
export function parseReadQuery(params: URLSearchParams): ReadQuery {
  let select: SelectItem[] | undefined;
  const filters: { path: EmbedPath; condition: Condition }[] = [];
  const order: { path: EmbedPath; terms: OrderTerm[] }[] = [];
  const ranges = new Map<string, { path: EmbedPath; limit?: number; offset?: number }>();

  for (const [key, value] of params) {
    if (key === 'select') {
      select ??= parseSelect(value); // PostgREST reads the first one
      continue;
    }
    if (RESERVED_PARAMS.has(key)) continue;
    const last = key.slice(key.lastIndexOf('.') + 1);
    if (last === 'order') {
      order.push({ path: keywordPath(key, last), terms: parseOrder(value) });
    } else if (last === 'limit' || last === 'offset') {
      const path = keywordPath(key, last);
      const id = JSON.stringify(path);
      const range = ranges.get(id) ?? { path };
      ranges.set(id, { ...range, [last]: nonNegativeInteger(last, value) });
    } else if (last === 'and' || last === 'or') {
      const { path, logic } = logicParam(key, value);
      filters.push({ path, condition: logic });
    } else {
      const { path, field: target } = run(`failed to parse tree path (${key})`, key, treePath);
      filters.push({ path, condition: filterFrom(target, value) });
    }
  }
  return { select: select ?? [{ kind: 'star' }], filters, order, ranges: [...ranges.values()] };
}

/** The embed path of `a.b.order`, `a.limit`…: every segment before the keyword. */
function keywordPath(key: string, keyword: string): EmbedPath {
  return run(`failed to parse tree path (${key})`, key, (c) => {
    const { path, field: last } = treePath(c);
    if (last.name !== keyword || last.jsonPath.length > 0) c.fail([token(keyword)], 0);
    return path;
  });
}

function nonNegativeInteger(param: 'limit' | 'offset', value: string): number {
  const n = /^[0-9]+$/.test(value) ? Number(value) : NaN;
  if (Number.isSafeInteger(n)) return n;
  const bad = value.search(/[^0-9]/);
  const details =
    bad === -1 && value !== ''
      ? 'unexpected number too large'
      : describe(value, new ParseFailure(bad === -1 ? 0 : bad, ['digit']));
  throw parseError(
    `failed to parse ${param} parameter (${value})`,
    value,
    Math.max(bad, 0),
    details,
    `${param} must be a non-negative integer`,
  );
}
