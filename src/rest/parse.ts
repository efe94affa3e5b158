/**
 * The PostgREST query grammar as a pure function of the query string: `select`, filters,
 * `and`/`or` trees, `order`, `limit`/`offset`. It follows PostgREST 12's own parser
 * (src/PostgREST/ApiRequest/QueryParams.hs): the same names, quoting, whitespace and error shape
 * (400 PGRST100, message `"failed to parse filter (…)" (line 1, column N)`, parsec-style details).
 * Where PostgREST silently ignores input (text after `in.(…)`, `is.null`, `or=(…)`, `select`,
 * a non-numeric limit) this parser refuses it: a typo should not widen a query.
 */
import { ApiError } from '../errors.js';
import type {
  Condition, EmbedPath, Field, Filter, FilterOperator, JsonPathStep, Logic, OrderTerm, ReadQuery,
  SelectColumn, SelectEmbed, SelectItem,
} from './ast.js';

/** Embeds and and/or groups nest at most this deep: enough for any real query, and recursion stays bounded. */
const MAX_DEPTH = 32;

/** Params PostgREST reads elsewhere (writes, auth), never as filters. */
const RESERVED_PARAMS = new Set(['select', 'columns', 'on_conflict', 'apikey']);

const FIELD_NAME = 'field name (* or [a..z0..9_$])';
const JSON_KEY = 'any non reserved character different from: .,>()';
const OPERATOR = 'operator (eq, gt, ...)';
const DELIMITER = 'delimiter (.)';
const IS_VALUE = 'isVal: (null, not_null, true, false, unknown)';
const NEGATION = 'negation operator (not)';
const LOGIC_OPERATOR = 'logic operator (and, or)';
const END = 'end of input';

// Unquoted names: letters (any script), ASCII digits, `_`, `$` and inner spaces (trimmed), joined by
// `-` when it does not start an arrow. Quoted names take anything, with backslash escapes.
const IDENTIFIER = /[\p{L}0-9_ $]+/uy;
const JSON_KEY_PART = /[^(\-:.,>)]+/y;
const QUOTED_BODY = /[^"\\]*(?:\\[\s\S][^"\\]*)*/y;
const DIGITS = /[0-9]+/y;
const WORD = /[a-z]+/y;
const ARRAY_BARE_ELEMENT = /[^,{}"\\]*(?:\\[\s\S][^,{}"\\]*)*/y;
const AGGREGATE = /\.(sum|avg|count|max|min)\(\)/y;

const SIMPLE_OPERATORS = new Set<FilterOperator>(['neq', 'cs', 'cd', 'ov', 'sl', 'sr', 'nxr', 'nxl', 'adj']);
const QUANTIFIABLE_OPERATORS = new Set<FilterOperator>(['eq', 'gt', 'gte', 'lt', 'lte', 'like', 'ilike', 'match', 'imatch']);
const FTS_OPERATORS = new Set<FilterOperator>(['fts', 'plfts', 'phfts', 'wfts']);
const IS_VALUES = new Set(['null', 'not_null', 'true', 'false', 'unknown']);
const ALL_OPERATORS = 'eq, neq, gt, gte, lt, lte, like, ilike, match, imatch, in, is, isdistinct, fts, plfts, phfts, wfts, cs, cd, ov, sl, sr, nxl, nxr, adj';

// ---------------------------------------------------------------------------------------------
// Cursor and failures

/** Internal: where parsing stopped and what would have been accepted there. Becomes an ApiError. */
class ParseFailure {
  constructor(
    readonly pos: number,
    readonly expected: readonly string[],
    readonly details?: string,
    readonly hint?: string,
  ) {}
}

class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(offset = 0): string {
    return this.text.charAt(this.pos + offset);
  }
  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (!this.startsWith(s)) return false;
    this.pos += s.length;
    return true;
  }
  expect(s: string, ...alternatives: string[]): void {
    if (!this.eat(s)) this.fail([token(s), ...alternatives]);
  }
  /** The `.` between a column, an operator and its value. */
  delimiter(...alternatives: string[]): void {
    if (!this.eat('.')) this.fail([...alternatives, DELIMITER]);
  }
  /** Matches a sticky regular expression here and moves past it. */
  match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null) return undefined;
    this.pos += m[0].length;
    return m[0];
  }
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  expectEnd(...alternatives: string[]): void {
    this.skipSpaces();
    if (!this.done) this.fail([...alternatives, END]);
  }
  fail(expected: readonly string[], at = this.pos): never {
    throw new ParseFailure(at, expected);
  }
  failWith(details: string, at = this.pos): never {
    throw new ParseFailure(at, [], details);
  }
}

const token = (s: string): string => JSON.stringify(s);

/** Parsec merges two failed alternatives by keeping the one that got further. */
function furthest(a: ParseFailure, b: ParseFailure): ParseFailure {
  if (a.pos !== b.pos) return a.pos > b.pos ? a : b;
  return new ParseFailure(a.pos, [...a.expected, ...b.expected], a.details ?? b.details, a.hint ?? b.hint);
}

function attempt<T>(c: Cursor, parse: () => T): T | ParseFailure {
  const start = c.pos;
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ParseFailure)) throw err;
    c.pos = start;
    return err;
  }
}

/** Runs one parser over one parameter and turns a failure into PostgREST's PGRST100 body. */
function run<T>(label: string, text: string, parse: (c: Cursor) => T): T {
  const c = new Cursor(text);
  try {
    return parse(c);
  } catch (err) {
    if (!(err instanceof ParseFailure)) throw err;
    throw parseError(label, text, err.pos, err.details ?? describe(text, err), err.hint);
  }
}

function parseError(label: string, text: string, pos: number, details: string, hint?: string): ApiError {
  const { line, column } = position(text, pos);
  return new ApiError(400, 'PGRST100', `${JSON.stringify(label)} (line ${line}, column ${column})`, {
    details,
    hint: hint ?? null,
  });
}

/** Parsec's position: code points, tabs to the next multiple of 8, newlines start a line. */
function position(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (const ch of text.slice(0, pos)) {
    if (ch === '\n') [line, column] = [line + 1, 1];
    else if (ch === '\t') column += 8 - ((column - 1) % 8);
    else column++;
  }
  return { line, column };
}

function describe(text: string, failure: ParseFailure): string {
  const cp = text.codePointAt(failure.pos);
  const unexpected = cp === undefined ? END : JSON.stringify(String.fromCodePoint(cp));
  const expected = [...new Set(failure.expected)];
  if (expected.length === 0) return `unexpected ${unexpected}`;
  const list = expected.length === 1 ? expected[0] : `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}`;
  return `unexpected ${unexpected} expecting ${list}`;
}

// ---------------------------------------------------------------------------------------------
// Names and fields

function quoted(c: Cursor): string {
  c.expect('"');
  const body = c.match(QUOTED_BODY) ?? '';
  c.expect('"');
  return body.replace(/\\([\s\S])/g, '$1');
}

/** `part(-part)*`, where `-` does not start `->`; each part trimmed, as PostgREST's T.strip. */
function dashed(c: Cursor, part: RegExp, expected: string): string {
  const parts: string[] = [];
  for (;;) {
    const m = c.match(part);
    if (m === undefined) c.fail([expected]);
    parts.push(m.trim());
    if (c.peek() !== '-' || c.peek(1) === '>') return parts.join('-');
    c.pos++;
  }
}

/** A column, relation, alias or hint name. Never empty, never with a NUL: the planner quotes it as an identifier. */
function fieldName(c: Cursor): string {
  const start = c.pos;
  const name = c.peek() === '"' ? quoted(c) : dashed(c, IDENTIFIER, FIELD_NAME);
  if (name === '') c.failWith('unexpected empty name expecting ' + FIELD_NAME, start);
  if (name.includes('\0')) c.failWith('unexpected NUL character in a name', start);
  return name;
}

function isQuotedAt(c: Cursor, pos: number): boolean {
  return c.text.charAt(pos) === '"';
}

/** A cast or full-text configuration: PostgREST's pIdentifier (letters, digits, `_`, `$`, spaces). */
function identifier(c: Cursor): string {
  const start = c.pos;
  const name = c.match(IDENTIFIER)?.trim();
  if (!name) c.fail(['letter or digit'], start);
  return name;
}

function jsonPath(c: Cursor): JsonPathStep[] {
  const steps: JsonPathStep[] = [];
  while (c.startsWith('->')) {
    const arrow = c.startsWith('->>') ? '->>' : '->';
    c.pos += arrow.length;
    steps.push({ arrow, key: jsonOperand(c) });
  }
  return steps;
}

/** An array index (`->0`, `->-1`) when only digits stand before the next token; a key otherwise. */
function jsonOperand(c: Cursor): string | number {
  const start = c.pos;
  const negative = c.eat('-');
  const digits = c.match(DIGITS);
  if (negative && digits === undefined) c.fail(['digit']);
  if (digits !== undefined && atIndexEnd(c)) {
    const index = Number(digits);
    if (!Number.isSafeInteger(index)) c.failWith('JSON array index out of range', start);
    return negative && index !== 0 ? -index : index;
  }
  if (negative) c.fail(['digit', token('->'), token('::'), token('.'), token(','), END]);
  c.pos = start;
  const key = c.peek() === '"' ? quoted(c) : dashed(c, JSON_KEY_PART, JSON_KEY);
  if (key.includes('\0')) c.failWith('unexpected NUL character in a JSON key', start);
  return key;
}

function atIndexEnd(c: Cursor): boolean {
  return c.done || c.startsWith('->') || c.startsWith('::') || ['.', ',', ')', ' ', '\t'].includes(c.peek());
}

function field(c: Cursor): Field {
  c.skipSpaces();
  const name = fieldName(c);
  const path = jsonPath(c);
  c.skipSpaces();
  return { name, jsonPath: path };
}

/** A filter/order/limit key: `embed.embed.column->json`, the embed path being every segment but the last. */
function treePath(c: Cursor): { path: EmbedPath; field: Field } {
  const segments = [fieldName(c)];
  while (c.eat('.')) segments.push(fieldName(c));
  const path = jsonPath(c);
  c.expectEnd(DELIMITER, token('->'));
  return { path: segments.slice(0, -1), field: { name: segments.at(-1) as string, jsonPath: path } };
}

// ---------------------------------------------------------------------------------------------
// select

function selectList(c: Cursor, depth: number): SelectItem[] {
  const items: SelectItem[] = [];
  c.skipSpaces();
  if (c.done || c.peek() === ')') return items;
  for (;;) {
    items.push(selectItem(c, depth));
    c.skipSpaces();
    if (!c.eat(',')) return items;
    c.skipSpaces();
  }
}

function selectItem(c: Cursor, depth: number): SelectItem {
  if (c.eat('...')) return embed(c, depth, fieldName(c), undefined, true);
  if (c.eat('*')) {
    endOfItem(c);
    return { kind: 'star' };
  }
  if (c.startsWith('count()')) return rowCount(c, undefined);
  let nameAt = c.pos;
  let name = fieldName(c);
  let alias: string | undefined;
  if (c.peek() === ':' && c.peek(1) !== ':') {
    c.pos++;
    c.skipSpaces();
    alias = name;
    if (c.startsWith('count()')) return rowCount(c, alias);
    nameAt = c.pos;
    name = fieldName(c);
  }
  const afterName = c.pos;
  c.skipSpaces();
  // `count(...)` is never a relation (PostgREST's guard), so `count(x)` fails as a column below.
  const isCount = name === 'count' && !isQuotedAt(c, nameAt);
  if (c.peek() === '!' || (c.peek() === '(' && !isCount)) return embed(c, depth, name, alias, false);
  c.pos = afterName;
  return column(c, name, alias);
}

function column(c: Cursor, name: string, alias: string | undefined): SelectColumn {
  const path = jsonPath(c);
  c.skipSpaces();
  const cast = c.eat('::') ? identifier(c) : undefined;
  const aggregate = c.match(AGGREGATE)?.slice(1, -2) as SelectColumn['aggregate'];
  const aggregateCast = aggregate !== undefined && c.eat('::') ? identifier(c) : undefined;
  endOfItem(c, ...(cast === undefined ? [token('::')] : []), ...(aggregate === undefined ? [token('.')] : []));
  return {
    kind: 'column',
    field: { name, jsonPath: path },
    ...(alias !== undefined && { alias }),
    ...(cast !== undefined && { cast }),
    ...(aggregate !== undefined && { aggregate }),
    ...(aggregateCast !== undefined && { aggregateCast }),
  };
}

function rowCount(c: Cursor, alias: string | undefined): SelectItem {
  c.pos += 'count()'.length;
  const cast = c.eat('::') ? identifier(c) : undefined;
  endOfItem(c);
  return { kind: 'count', ...(alias !== undefined && { alias }), ...(cast !== undefined && { cast }) };
}

function endOfItem(c: Cursor, ...alternatives: string[]): void {
  c.skipSpaces();
  if (!c.done && c.peek() !== ',' && c.peek() !== ')') c.fail([...alternatives, token(','), token(')'), END]);
}

/** `relation!hint!inner(select…)`: at most one hint and one join type, in either order. */
function embed(c: Cursor, depth: number, relation: string, alias: string | undefined, spread: boolean): SelectEmbed {
  let hint: string | undefined;
  let joinType: 'inner' | 'left' | undefined;
  while (c.peek() === '!') {
    const at = ++c.pos;
    const param = fieldName(c);
    if (!isQuotedAt(c, at) && (param === 'inner' || param === 'left')) {
      if (joinType !== undefined) c.failWith('an embedded resource takes one join type (!inner or !left)', at);
      joinType = param;
    } else {
      if (hint !== undefined) c.failWith('an embedded resource takes one hint (!fk_name)', at);
      hint = param;
    }
  }
  c.skipSpaces();
  c.expect('(');
  if (depth >= MAX_DEPTH) c.failWith(`embedded resources nest deeper than ${MAX_DEPTH} levels`);
  const select = selectList(c, depth + 1);
  c.skipSpaces();
  c.expect(')', token(','));
  return {
    kind: 'embed',
    relation,
    ...(alias !== undefined && { alias }),
    ...(hint !== undefined && { hint }),
    ...(joinType !== undefined && { joinType }),
    spread,
    select,
  };
}

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
      if (bare.toLowerCase() === 'null') c.failWith('unexpected NULL in a quantified list: quote it ("NULL") to mean the text', start);
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

function filterFrom(field: Field, value: string): Filter {
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
  const operator = c.eat('and') ? 'and' : c.eat('or') ? 'or' : c.fail(negate ? [LOGIC_OPERATOR] : [NEGATION, LOGIC_OPERATOR]);
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

function logicParam(key: string, value: string): { path: EmbedPath; logic: Logic } {
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
    if (direction === undefined && (c.eat('asc') || c.eat('desc'))) direction = c.text.charAt(at) === 'a' ? 'asc' : 'desc';
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

/** `select=`: an empty text selects everything, the caller's default too. */
export function parseSelect(text: string): SelectItem[] {
  if (text.trim() === '') return [{ kind: 'star' }];
  return run(`failed to parse select parameter (${text})`, text, (c) => {
    const items = selectList(c, 0);
    c.expectEnd(token(','));
    return items;
  });
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
  const details = bad === -1 && value !== '' ? 'unexpected number too large' : describe(value, new ParseFailure(bad === -1 ? 0 : bad, ['digit']));
  throw parseError(`failed to parse ${param} parameter (${value})`, value, Math.max(bad, 0), details, `${param} must be a non-negative integer`);
}
