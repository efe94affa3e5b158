/** Filters (`column=[not.]op.value`) and `and`/`or` trees of them. */
import type { Condition, EmbedPath, Field, Filter, FilterOperator, Logic } from './ast.js';
import {
  DELIMITER,
  MAX_DEPTH,
  ParseFailure,
  attempt,
  field,
  fieldName,
  furthest,
  identifier,
  jsonPath,
  quoted,
  run,
  token,
  type Cursor,
} from './parse-grammar.js';

const OPERATOR = 'operator (eq, gt, ...)';
const IS_VALUE = 'isVal: (null, not_null, true, false, unknown)';
const NEGATION = 'negation operator (not)';
const LOGIC_OPERATOR = 'logic operator (and, or)';

const WORD = /[a-z]+/y;
const ARRAY_BARE_ELEMENT = /[^,{}"\\]*(?:\\[\s\S][^,{}"\\]*)*/y;

const SIMPLE_OPERATORS = new Set<FilterOperator>(['neq', 'cs', 'cd', 'ov', 'sl', 'sr', 'nxr', 'nxl', 'adj']);
const QUANTIFIABLE_OPERATORS = new Set<FilterOperator>([
  'eq',
  'gt',
  'gte',
  'lt',
  'lte',
  'like',
  'ilike',
  'match',
  'imatch',
]);
const FTS_OPERATORS = new Set<FilterOperator>(['fts', 'plfts', 'phfts', 'wfts']);
const IS_VALUES = new Set(['null', 'not_null', 'true', 'false', 'unknown']);
const ALL_OPERATORS =
  'eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, isdistinct, fts, plfts, phfts, wfts, cs, cd, ov, sl, sr, nxl, nxr, adj';

// ---------------------------------------------------------------------------------------------
// Filters: `[not.]op[(any|all)|(language)].value`

type ValueParser = (c: Cursor) => string;
type Operation = Omit<Filter, 'kind' | 'field'>;

/** A filter param's value: everything after the operator, raw. */
const restOfInput: ValueParser = (c) => {
  const value = c.text.slice(c.pos);
  c.pos = c.text.length;
  return value;
};

/** A value inside `or=(…)`: a quoted string, a `{…}` array literal, or text up to `,` or `)`. */
const logicValue: ValueParser = (c) => {
  const start = c.pos;
  if (c.peek() === '"') {
    const value = attempt(c, () => quoted(c));
    if (typeof value === 'string' && (c.done || c.peek() === ',' || c.peek() === ')')) return value;
    c.pos = start;
  }
  if (c.peek() === '{') {
    const array = c.match(/\{[^{}]*\}/y);
    if (array !== undefined) return array;
  }
  c.pos = start;
  return c.match(/[^,)]*/y) ?? '';
};

function operation(c: Cursor, value: ValueParser): Operation {
  const negate = c.eat('not.');
  const start = c.pos;
  const word = c.match(WORD) ?? '';
  const operator = word as FilterOperator;
  const op = (rest: Omit<Operation, 'operator' | 'negate'>): Operation => ({ operator, negate, ...rest });
  if (operator === 'in') {
    c.delimiter();
    return op({ value: listValue(c) });
  }
  if (operator === 'is') {
    c.delimiter();
    return op({ value: isValue(c) });
  }
  if (operator === 'isdistinct') {
    c.delimiter();
    return op({ value: value(c) });
  }
  if (FTS_OPERATORS.has(operator)) {
    const language = c.eat('(') ? identifier(c) : undefined;
    if (language !== undefined) c.expect(')');
    c.delimiter(...(language === undefined ? [token('(')] : []));
    return op({ ...(language !== undefined && { language }), value: value(c) });
  }
  if (SIMPLE_OPERATORS.has(operator)) {
    c.delimiter();
    return op({ value: value(c) });
  }
  if (QUANTIFIABLE_OPERATORS.has(operator)) {
    let quantifier: 'any' | 'all' | undefined;
    if (c.eat('(')) {
      quantifier = c.eat('any') ? 'any' : c.eat('all') ? 'all' : c.fail([token('any'), token('all')]);
      c.expect(')');
    }
    c.delimiter(...(quantifier === undefined ? [token('(')] : []));
    if (quantifier === undefined) return op({ value: value(c) });
    return op({ quantifier, value: arrayValue(c) });
  }
  const shown = c.text.slice(start).split(/[.(]/, 1)[0] ?? '';
  throw new ParseFailure(
    start,
    negate ? [OPERATOR] : [token('not'), OPERATOR],
    undefined,
    shown === '' ? undefined : `${JSON.stringify(shown)} is not a valid operator; use one of ${ALL_OPERATORS}`,
  );
}

/** `(a,b,"c,d")`: quoted items unescaped, others raw (inner spaces kept, as PostgREST). `()` is empty. */
function listValue(c: Cursor): string[] {
  c.skipSpaces();
  c.expect('(');
  c.skipSpaces();
  const items: string[] = [];
  let quotedItems = false;
  do {
    const start = c.pos;
    if (c.peek() === '"') {
      const item = attempt(c, () => quoted(c));
      if (typeof item === 'string' && (c.done || c.peek() === ',' || c.peek() === ')')) {
        items.push(item);
        quotedItems = true;
        continue;
      }
      c.pos = start;
    }
    items.push(c.match(/[^,)]*/y) ?? '');
  } while (c.eat(','));
  c.expect(')', token(','));
  c.skipSpaces();
  return items.length === 1 && items[0] === '' && !quotedItems ? [] : items;
}

/**
 * `{a,"b,c"}` after `eq(any).`: a one-dimensional array literal read as PostgreSQL reads one
 * (quoted or bare elements, backslash escapes, spaces around bare elements ignored). A bare NULL
 * is refused: as a list of texts it would silently become the string "NULL".
 */
function arrayValue(c: Cursor): string[] {
  c.expect('{');
  c.skipSpaces();
  const items: string[] = [];
  if (c.eat('}')) return items;
  for (;;) {
    c.skipSpaces();
    const start = c.pos;
    if (c.peek() === '"') items.push(quoted(c));
    else {
      const bare = (c.match(ARRAY_BARE_ELEMENT) ?? '').trim();
      if (bare === '') c.fail(['array element'], start);
      if (bare.toLowerCase() === 'null')
        c.failWith('unexpected NULL in a quantified list: quote it ("NULL") to mean the text', start);
      items.push(bare.replace(/\\([\s\S])/g, '$1'));
    }
    c.skipSpaces();
    if (!c.eat(',')) break;
  }
  c.expect('}', token(','));
  return items;
}

function isValue(c: Cursor): string {
  const start = c.pos;
  const word = c.match(/[A-Za-z_]+/y)?.toLowerCase();
  if (word === undefined || !IS_VALUES.has(word)) c.fail([IS_VALUE], start);
  return word;
}

export function filterFrom(field: Field, value: string): Filter {
  const op = run(`failed to parse filter (${value})`, value, (c) => {
    const parsed = operation(c, restOfInput);
    c.expectEnd();
    return parsed;
  });
  return { kind: 'filter', field, ...op };
}

// ---------------------------------------------------------------------------------------------
// and/or trees

function condition(c: Cursor, depth: number): Condition {
  c.skipSpaces();
  const start = c.pos;
  const asFilter = attempt(c, (): Filter => {
    const f = field(c);
    c.delimiter();
    return { kind: 'filter', field: f, ...operation(c, logicValue) };
  });
  if (!(asFilter instanceof ParseFailure)) return asFilter;
  const asGroup = attempt(c, () => logicGroup(c, depth));
  if (!(asGroup instanceof ParseFailure)) return asGroup;
  // As parsec: an alternative that consumed input reports its own failure; otherwise the furthest wins.
  throw asGroup.pos > start ? asGroup : furthest(asFilter, asGroup);
}

function logicGroup(c: Cursor, depth: number): Logic {
  const negate = c.eat('not.');
  const operator = c.eat('and')
    ? 'and'
    : c.eat('or')
      ? 'or'
      : c.fail(negate ? [LOGIC_OPERATOR] : [NEGATION, LOGIC_OPERATOR]);
  if (depth >= MAX_DEPTH) c.failWith(`and/or groups nest deeper than ${MAX_DEPTH} levels`);
  c.skipSpaces();
  c.expect('(');
  const conditions = [condition(c, depth + 1)];
  c.skipSpaces();
  while (c.eat(',')) {
    conditions.push(condition(c, depth + 1));
    c.skipSpaces();
  }
  c.expect(')', token(','));
  c.skipSpaces();
  return { kind: 'logic', operator, negate, conditions };
}

export function logicParam(key: string, value: string): { path: EmbedPath; logic: Logic } {
  const head = run(`failed to parse logic path (${key})`, key, (c) => {
    const segments = [fieldName(c)];
    while (c.eat('.')) segments.push(fieldName(c));
    c.expectEnd(DELIMITER);
    const operator = segments.pop();
    if (operator !== 'and' && operator !== 'or') c.fail([LOGIC_OPERATOR], 0);
    const negate = segments.at(-1) === 'not';
    if (negate) segments.pop();
    return { path: segments, operator, negate };
  });
  // PostgREST parses `not.or` + `(…)` as one text, so columns in messages count the prefix too.
  const text = `${head.negate ? 'not.' : ''}${head.operator}${value}`;
  const logic = run(`failed to parse logic tree (${value})`, text, (c) => {
    const group = logicGroup(c, 0);
    c.expectEnd();
    return group;
  });
  return { path: head.path, logic };
}

/** One filter param `column=value`; the column may carry a JSON path (`data->>name`), not an embed path. */
export function parseFilter(column: string, value: string): Filter {
  const target = run(`failed to parse tree path (${column})`, column, (c): Field => {
    const name = fieldName(c);
    const path = jsonPath(c);
    c.expectEnd(token('->'));
    return { name, jsonPath: path };
  });
  return filterFrom(target, value);
}

/** `or=(…)`, `and=(…)`, `not.or=(…)`, `not.and=(…)` (and the same under an embed path, see parseReadQuery). */
export function parseLogic(key: string, value: string): Logic {
  return logicParam(key, value).logic;
}
