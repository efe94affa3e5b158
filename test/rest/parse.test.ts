import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { castType } from '../../src/rest/sql.js';
import type {
  Field,
  Filter,
  JsonPathStep,
  Logic,
  OrderTerm,
  ReadQuery,
  SelectColumn,
  SelectEmbed,
  SelectItem,
} from '../../src/rest/ast.js';
import { parseFilter, parseLogic, parseOrder, parseReadQuery, parseSelect } from '../../src/rest/parse.js';

// ---- builders, so each table row reads like the query it pins down

type Step = [JsonPathStep['arrow'], string | number];
const fld = (name: string, ...steps: Step[]): Field => ({
  name,
  jsonPath: steps.map(([arrow, key]) => ({ arrow, key })),
});
const star: SelectItem = { kind: 'star' };
const col = (name: string | Field, extra: Partial<SelectColumn> = {}): SelectColumn => ({
  kind: 'column',
  field: typeof name === 'string' ? fld(name) : name,
  ...extra,
});
const embed = (relation: string, select: SelectItem[], extra: Partial<SelectEmbed> = {}): SelectEmbed => ({
  kind: 'embed',
  relation,
  spread: false,
  select,
  ...extra,
});
const flt = (
  name: string | Field,
  operator: Filter['operator'],
  value: Filter['value'],
  extra: Partial<Filter> = {},
): Filter => ({
  kind: 'filter',
  field: typeof name === 'string' ? fld(name) : name,
  operator,
  negate: false,
  value,
  ...extra,
});
const not = (filter: Filter): Filter => ({ ...filter, negate: true });
const and = (...conditions: Logic['conditions']): Logic => ({
  kind: 'logic',
  operator: 'and',
  negate: false,
  conditions,
});
const or = (...conditions: Logic['conditions']): Logic => ({
  kind: 'logic',
  operator: 'or',
  negate: false,
  conditions,
});
const term = (name: string | Field, extra: Partial<OrderTerm> = {}): OrderTerm => ({
  field: typeof name === 'string' ? fld(name) : name,
  ...extra,
});

/** The ApiError `run` throws, or a test failure when it returns or throws anything else. */
function rejection(run: () => unknown): ApiError {
  try {
    run();
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected a 400, got a parse');
}

/** PostgREST's message: the parser's label shown as a Haskell string, then the position. */
const at = (label: string, column: number) => `${JSON.stringify(label)} (line 1, column ${column})`;

function expectParseError(run: () => unknown, message: string, details?: string): ApiError {
  const err = rejection(run);
  expect({ status: err.status, code: err.code, message: err.message }).toEqual({
    status: 400,
    code: 'PGRST100',
    message,
  });
  if (details !== undefined) expect(err.extra.details).toBe(details);
  return err;
}

// ---------------------------------------------------------------------------------------------

describe('parseSelect', () => {
  test.each<[string, SelectItem[]]>([
    ['*', [star]],
    ['', [star]],
    ['id,name', [col('id'), col('name')]],
    [' id , name ', [col('id'), col('name')]],
    ['id,\tname', [col('id'), col('name')]],
    ['first name', [col('first name')]],
    ['my-col,a-b-c', [col('my-col'), col('a-b-c')]],
    ['$x,_y,a1,123', [col('$x'), col('_y'), col('a1'), col('123')]],
    ['größe,名前,имя', [col('größe'), col('名前'), col('имя')]],
    ['"my col"', [col('my col')]],
    ['" padded "', [col(' padded ')]],
    ['"a,b(c)"', [col('a,b(c)')]],
    ['"quo\\"te"', [col('quo"te')]],
    ['"*"', [col('*')]],
    ['alias:col', [col('col', { alias: 'alias' })]],
    ['alias : col', [col('col', { alias: 'alias' })]],
    ['"my alias":"my col"', [col('my col', { alias: 'my alias' })]],
    ['col::text', [col('col', { cast: 'text' })]],
    ['col::double precision', [col('col', { cast: 'double precision' })]],
    ['alias:col::text', [col('col', { alias: 'alias', cast: 'text' })]],
    ['data->a->>b', [col(fld('data', ['->', 'a'], ['->>', 'b']))]],
    ['data->0', [col(fld('data', ['->', 0]))]],
    ['data->>-1', [col(fld('data', ['->>', -1]))]],
    ['data->1a', [col(fld('data', ['->', '1a']))]],
    ['data->"0"', [col(fld('data', ['->', '0']))]],
    ['data->"a.b"->>c', [col(fld('data', ['->', 'a.b'], ['->>', 'c']))]],
    ['data->!@#$%^&*_a', [col(fld('data', ['->', '!@#$%^&*_a']))]],
    ['data->my-key', [col(fld('data', ['->', 'my-key']))]],
    ['name:data->>name::text', [col(fld('data', ['->>', 'name']), { alias: 'name', cast: 'text' })]],
    ['author(id,name)', [embed('author', [col('id'), col('name')])]],
    ['author ( id )', [embed('author', [col('id')])]],
    ['author()', [embed('author', [])]],
    ['author(*)', [embed('author', [star])]],
    ['writer:users(name)', [embed('users', [col('name')], { alias: 'writer' })]],
    ['users!messages_author_id_fkey(*)', [embed('users', [star], { hint: 'messages_author_id_fkey' })]],
    ['users!author_id(*)', [embed('users', [star], { hint: 'author_id' })]],
    ['users!inner(*)', [embed('users', [star], { joinType: 'inner' })]],
    ['users!left(*)', [embed('users', [star], { joinType: 'left' })]],
    ['users!left_fk(*)', [embed('users', [star], { hint: 'left_fk' })]],
    ['users!"inner"(*)', [embed('users', [star], { hint: 'inner' })]],
    ['users!fk!inner(*)', [embed('users', [star], { hint: 'fk', joinType: 'inner' })]],
    ['a:users!inner!fk(*)', [embed('users', [star], { alias: 'a', hint: 'fk', joinType: 'inner' })]],
    ['...author(name)', [embed('author', [col('name')], { spread: true })]],
    ['...author!fk!inner(name)', [embed('author', [col('name')], { spread: true, hint: 'fk', joinType: 'inner' })]],
    [
      'id,messages(id,author:users!author_id(name),...rooms(topic))',
      [
        col('id'),
        embed('messages', [
          col('id'),
          embed('users', [col('name')], { alias: 'author', hint: 'author_id' }),
          embed('rooms', [col('topic')], { spread: true }),
        ]),
      ],
    ],
    ['count()', [{ kind: 'count' }]],
    ['total:count()::int', [{ kind: 'count', alias: 'total', cast: 'int' }]],
    ['count', [col('count')]],
    ['"count"(id)', [embed('count', [col('id')])]],
    ['amount.sum()', [col('amount', { aggregate: 'sum' })]],
    ['amount.avg()::int', [col('amount', { aggregate: 'avg', aggregateCast: 'int' })]],
    [
      'id.count(),amount.max(),amount.min()',
      [col('id', { aggregate: 'count' }), col('amount', { aggregate: 'max' }), col('amount', { aggregate: 'min' })],
    ],
    [
      'total:amount::numeric.sum()::text',
      [col('amount', { alias: 'total', cast: 'numeric', aggregate: 'sum', aggregateCast: 'text' })],
    ],
    ['data->>n.sum()', [col(fld('data', ['->>', 'n']), { aggregate: 'sum' })]],
  ])('parses %j', (text, items) => {
    expect(parseSelect(text)).toEqual(items);
  });

  test.each([
    ['id,', 4, 'unexpected end of input expecting field name (* or [a..z0..9_$])'],
    [',id', 1, 'unexpected "," expecting field name (* or [a..z0..9_$])'],
    ['id)', 3, 'unexpected ")" expecting "," or end of input'],
    ['author(id', 10, 'unexpected end of input expecting ")" or ","'],
    ['author(id))', 11, 'unexpected ")" expecting "," or end of input'],
    ['author((id)', 8, 'unexpected "(" expecting field name (* or [a..z0..9_$])'],
    ['id,clients(name[])', 16, 'unexpected "[" expecting "::", ".", ",", ")" or end of input'],
    ['name::', 7, 'unexpected end of input expecting letter or digit'],
    ['name::int[]', 10, 'unexpected "[" expecting ".", ",", ")" or end of input'],
    ['data->>-78xy', 11, 'unexpected "x" expecting digit, "->", "::", ".", "," or end of input'],
    ['data->>--34', 9, 'unexpected "-" expecting digit'],
    ['name!hint', 10, 'unexpected end of input expecting "("'],
    ['*!hint', 2, 'unexpected "!" expecting ",", ")" or end of input'],
    ['*::text', 2, 'unexpected ":" expecting ",", ")" or end of input'],
    ['count(id)', 6, 'unexpected "(" expecting "::", ".", ",", ")" or end of input'],
    ['a:...rel(*)', 3, 'unexpected "." expecting field name (* or [a..z0..9_$])'],
    ['rel->x(*)', 7, 'unexpected "(" expecting "::", ".", ",", ")" or end of input'],
    ['users!a!b(*)', 9, 'an embedded resource takes one hint (!fk_name)'],
    ['users!inner!left(*)', 13, 'an embedded resource takes one join type (!inner or !left)'],
    ['"unterminated', 14, 'unexpected end of input expecting "\\""'],
    ['""', 1, 'unexpected empty name expecting field name (* or [a..z0..9_$])'],
    ['"a\u0000b"', 1, 'unexpected NUL character in a name'],
    ['id.foo()', 3, 'unexpected "." expecting "::", ".", ",", ")" or end of input'],
    ['a-', 3, 'unexpected end of input expecting field name (* or [a..z0..9_$])'],
  ])('refuses %j at column %i', (text, column, details) => {
    expectParseError(() => parseSelect(text), at(`failed to parse select parameter (${text})`, column), details);
  });

  test('embeds nest at most 32 deep, and deeper input is a 400, not a stack overflow', () => {
    const nested = (depth: number) => `${'r('.repeat(depth)}id${')'.repeat(depth)}`;
    expect(parseSelect(nested(32))).toHaveLength(1);
    expect(rejection(() => parseSelect(nested(33))).extra.details).toBe(
      'embedded resources nest deeper than 32 levels',
    );
    expect(rejection(() => parseSelect(nested(100_000))).status).toBe(400);
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseFilter', () => {
  test.each<[string, string, Filter]>([
    ['id', 'eq.1', flt('id', 'eq', '1')],
    ['name', 'not.ilike.*bob*', not(flt('name', 'ilike', '*bob*'))],
    ['name', 'eq.', flt('name', 'eq', '')],
    ['name', 'eq.a.b,c)(', flt('name', 'eq', 'a.b,c)(')],
    ['name', 'eq."quoted"', flt('name', 'eq', '"quoted"')],
    ['name', 'eq. padded ', flt('name', 'eq', ' padded ')],
    ['data->>name', 'eq.x', flt(fld('data', ['->>', 'name']), 'eq', 'x')],
    ['data->tags->0', 'eq."a"', flt(fld('data', ['->', 'tags'], ['->', 0]), 'eq', '"a"')],
    ['"my col"', 'eq.1', flt('my col', 'eq', '1')],
    ...(
      [
        'neq',
        'gt',
        'gte',
        'lt',
        'lte',
        'like',
        'ilike',
        'match',
        'imatch',
        'isdistinct',
        'cs',
        'cd',
        'ov',
        'sl',
        'sr',
        'nxl',
        'nxr',
        'adj',
        'fts',
        'plfts',
        'phfts',
        'wfts',
      ] as const
    ).map((op): [string, string, Filter] => ['c', `${op}.v`, flt('c', op, 'v')]),
    ['id', 'in.(1,2,3)', flt('id', 'in', ['1', '2', '3'])],
    ['name', 'in.(a,b,"c,d")', flt('name', 'in', ['a', 'b', 'c,d'])],
    ['name', 'in.( a, b )', flt('name', 'in', ['a', ' b '])],
    ['name', 'in.("a\\"b","back\\\\slash","(x)")', flt('name', 'in', ['a"b', 'back\\slash', '(x)'])],
    ['name', 'in.("a"b)', flt('name', 'in', ['"a"b'])],
    ['name', 'in.()', flt('name', 'in', [])],
    ['name', 'in.("")', flt('name', 'in', [''])],
    ['name', 'in.(a,)', flt('name', 'in', ['a', ''])],
    ['name', 'not.in.(a)', not(flt('name', 'in', ['a']))],
    ['x', 'is.null', flt('x', 'is', 'null')],
    ['x', 'is.NULL', flt('x', 'is', 'null')],
    ['x', 'is.not_null', flt('x', 'is', 'not_null')],
    ['x', 'is.true', flt('x', 'is', 'true')],
    ['x', 'is.False', flt('x', 'is', 'false')],
    ['x', 'is.unknown', flt('x', 'is', 'unknown')],
    ['x', 'not.is.null', not(flt('x', 'is', 'null'))],
    ['tsv', 'fts(english).word', flt('tsv', 'fts', 'word', { language: 'english' })],
    ['tsv', 'not.wfts(simple).a "b" -c', not(flt('tsv', 'wfts', 'a "b" -c', { language: 'simple' }))],
    ['tsv', 'phfts.the cat', flt('tsv', 'phfts', 'the cat')],
    ['id', 'eq(any).{1,2}', flt('id', 'eq', ['1', '2'], { quantifier: 'any' })],
    ['name', 'like(all).{a*,*b}', flt('name', 'like', ['a*', '*b'], { quantifier: 'all' })],
    [
      'name',
      'not.eq(any).{"a,b", c ,"N\\"q",NULLS}',
      not(flt('name', 'eq', ['a,b', 'c', 'N"q', 'NULLS'], { quantifier: 'any' })),
    ],
    ['name', 'eq(any).{}', flt('name', 'eq', [], { quantifier: 'any' })],
    ['name', 'eq(any).{"NULL"}', flt('name', 'eq', ['NULL'], { quantifier: 'any' })],
    ['n', 'gte(all).{1,2}', flt('n', 'gte', ['1', '2'], { quantifier: 'all' })],
    ['tags', 'cs.{a,b}', flt('tags', 'cs', '{a,b}')],
    ['data', 'cs.[1,2]', flt('data', 'cs', '[1,2]')],
    ['data', 'cd.{"a":1}', flt('data', 'cd', '{"a":1}')],
    ['tags', 'ov.{a,b}', flt('tags', 'ov', '{a,b}')],
    ['during', 'sl.(1,10)', flt('during', 'sl', '(1,10)')],
    ['during', 'adj.[1,5)', flt('during', 'adj', '[1,5)')],
    ['during', 'not.nxr.[2020-01-01,2021-01-01)', not(flt('during', 'nxr', '[2020-01-01,2021-01-01)'))],
  ])('parses %s=%s', (column, value, filter) => {
    expect(parseFilter(column, value)).toEqual(filter);
  });

  test.each([
    ['', 1, 'unexpected end of input expecting "not" or operator (eq, gt, ...)'],
    ['0', 1, 'unexpected "0" expecting "not" or operator (eq, gt, ...)'],
    ['eq', 3, 'unexpected end of input expecting "(" or delimiter (.)'],
    ['eq1', 3, 'unexpected "1" expecting "(" or delimiter (.)'],
    ['EQ.1', 1, 'unexpected "E" expecting "not" or operator (eq, gt, ...)'],
    ['not.', 5, 'unexpected end of input expecting operator (eq, gt, ...)'],
    ['not.not.eq.1', 5, 'unexpected "n" expecting operator (eq, gt, ...)'],
    ['in.', 4, 'unexpected end of input expecting "("'],
    ['in.1,2', 4, 'unexpected "1" expecting "("'],
    ['not.in.order_shipped', 8, 'unexpected "o" expecting "("'],
    ['in.(1,2', 8, 'unexpected end of input expecting ")" or ","'],
    ['in.(1,2))', 9, 'unexpected ")" expecting end of input'],
    ['in.(1);drop table x', 7, 'unexpected ";" expecting end of input'],
    ['is.', 4, 'unexpected end of input expecting isVal: (null, not_null, true, false, unknown)'],
    ['is.foo', 4, 'unexpected "f" expecting isVal: (null, not_null, true, false, unknown)'],
    ['is.nullx', 4, 'unexpected "n" expecting isVal: (null, not_null, true, false, unknown)'],
    ['is.null;', 8, 'unexpected ";" expecting end of input'],
    ['fts().value', 5, 'unexpected ")" expecting letter or digit'],
    ['fts(english.word', 12, 'unexpected "." expecting ")"'],
    ['eq(some).1', 4, 'unexpected "s" expecting "any" or "all"'],
    ['eq(any).1,2', 9, 'unexpected "1" expecting "{"'],
    ['eq(any).{1,2', 13, 'unexpected end of input expecting "}" or ","'],
    ['eq(any).{1,,2}', 12, 'unexpected "," expecting array element'],
    ['eq(any).{{1},{2}}', 10, 'unexpected "{" expecting array element'],
    ['eq(any).{1,null}', 12, 'unexpected NULL in a quantified list: quote it ("NULL") to mean the text'],
    ['eq(any).{1}x', 12, 'unexpected "x" expecting end of input'],
    ['neq(any).{1}', 4, 'unexpected "(" expecting delimiter (.)'],
    ['in(1,2)', 3, 'unexpected "(" expecting delimiter (.)'],
  ])('refuses %j at column %i', (value, column, details) => {
    expectParseError(() => parseFilter('c', value), at(`failed to parse filter (${value})`, column), details);
  });

  test('an unknown operator names itself in the hint, as PostgREST names the position', () => {
    const err = expectParseError(
      () => parseFilter('id', 'foo.1'),
      '"failed to parse filter (foo.1)" (line 1, column 1)',
      'unexpected "f" expecting "not" or operator (eq, gt, ...)',
    );
    expect(err.extra.hint).toMatch(/^"foo" is not a valid operator; use one of eq, neq, /);
    expect(rejection(() => parseFilter('id', 'not.zzz.(x)')).extra.hint).toMatch(/^"zzz" is not a valid operator/);
  });

  test.each([
    ['a.b', 2, 'unexpected "." expecting "->" or end of input'],
    ['a;b', 2, 'unexpected ";" expecting "->" or end of input'],
    ['', 1, 'unexpected end of input expecting field name (* or [a..z0..9_$])'],
    ['data->', 7, 'unexpected end of input expecting any non reserved character different from: .,>()'],
  ])('refuses the column %j', (column, position, details) => {
    expectParseError(() => parseFilter(column, 'eq.1'), at(`failed to parse tree path (${column})`, position), details);
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseLogic', () => {
  test.each<[string, string, Logic]>([
    ['or', '(a.eq.1,b.eq.2)', or(flt('a', 'eq', '1'), flt('b', 'eq', '2'))],
    ['and', '(a.gte.1,a.lte.5)', and(flt('a', 'gte', '1'), flt('a', 'lte', '5'))],
    ['not.or', '(a.eq.1,b.eq.2)', { ...or(flt('a', 'eq', '1'), flt('b', 'eq', '2')), negate: true }],
    ['not.and', '(a.eq.1)', { ...and(flt('a', 'eq', '1')), negate: true }],
    ['or', '(a.eq.1,and(b.eq.2,c.eq.3))', or(flt('a', 'eq', '1'), and(flt('b', 'eq', '2'), flt('c', 'eq', '3')))],
    [
      'or',
      '(a.eq.1,not.and(b.eq.2,or(c.eq.3,d.is.null)))',
      or(flt('a', 'eq', '1'), {
        ...and(flt('b', 'eq', '2'), or(flt('c', 'eq', '3'), flt('d', 'is', 'null'))),
        negate: true,
      }),
    ],
    ['or', '(a.not.eq.1,b.not.in.(1,2))', or(not(flt('a', 'eq', '1')), not(flt('b', 'in', ['1', '2'])))],
    ['or', '(name.eq."a,b)",c.is.null)', or(flt('name', 'eq', 'a,b)'), flt('c', 'is', 'null'))],
    ['or', '(name.eq."say \\"hi\\"")', or(flt('name', 'eq', 'say "hi"'))],
    ['or', '(name.eq."a"b)', or(flt('name', 'eq', '"a"b'))],
    ['or', '(name.eq.)', or(flt('name', 'eq', ''))],
    [
      'or',
      '(data->>name.eq.x,data->0.eq.y)',
      or(flt(fld('data', ['->>', 'name']), 'eq', 'x'), flt(fld('data', ['->', 0]), 'eq', 'y')),
    ],
    [
      'or',
      '(id.in.(1,2),tags.cs.{a,b},r.sl."(1,10)")',
      or(flt('id', 'in', ['1', '2']), flt('tags', 'cs', '{a,b}'), flt('r', 'sl', '(1,10)')),
    ],
    [
      'or',
      '(id.eq(any).{1,2},tsv.fts(english).cat)',
      or(flt('id', 'eq', ['1', '2'], { quantifier: 'any' }), flt('tsv', 'fts', 'cat', { language: 'english' })),
    ],
    ['or', '( a.eq.1 , b.eq.2)', or(flt('a', 'eq', '1 '), flt('b', 'eq', '2'))],
    ['or', '(and.eq.1,or.eq.2,not.eq.3)', or(flt('and', 'eq', '1'), flt('or', 'eq', '2'), flt('not', 'eq', '3'))],
    ['or', '(a.eq.1)', or(flt('a', 'eq', '1'))],
    ['or', '(data.cs."[1,2]",r.adj."[1,5)")', or(flt('data', 'cs', '[1,2]'), flt('r', 'adj', '[1,5)'))],
  ])('parses %s=%s', (key, value, logic) => {
    expect(parseLogic(key, value)).toEqual(logic);
  });

  test.each([
    ['or', '(a.eq.1', 10, 'unexpected end of input expecting ")" or ","'],
    ['or', '(a.eq.1))', 11, 'unexpected ")" expecting end of input'],
    [
      'or',
      '((a.eq.1)',
      4,
      'unexpected "(" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)',
    ],
    ['or', 'a.eq.1', 3, 'unexpected "a" expecting "("'],
    ['or', '', 3, 'unexpected end of input expecting "("'],
    [
      'or',
      '()',
      4,
      'unexpected ")" expecting field name (* or [a..z0..9_$]), negation operator (not) or logic operator (and, or)',
    ],
    ['or', '(id.in.1,2,id.eq.3)', 10, 'unexpected "1" expecting "("'],
    ['and', '(ord(id.eq.1,id.eq.1),id.eq.2)', 7, 'unexpected "d" expecting "("'],
    ['or', '(id.eq.1,not.xor(id.eq.2,id.eq.3))', 16, 'unexpected "x" expecting logic operator (and, or)'],
    ['or', '(a.foo.1)', 6, 'unexpected "f" expecting "not" or operator (eq, gt, ...)'],
    ['not.or', '(a.eq.1', 14, 'unexpected end of input expecting ")" or ","'],
    ['or', '(a.eq.1);drop table x', 11, 'unexpected ";" expecting end of input'],
    // As in PostgREST, a JSON or range operand inside or=(…) must be quoted: `[1` ends at the comma.
    ['or', '(a.cs.[1,2])', 13, 'unexpected "]" expecting delimiter (.)'],
  ])('refuses %s=%s at column %i', (key, value, column, details) => {
    expectParseError(() => parseLogic(key, value), at(`failed to parse logic tree (${value})`, column), details);
  });

  test('the key must end in and/or, after an optional not', () => {
    expectParseError(
      () => parseLogic('xor', '(a.eq.1)'),
      at('failed to parse logic path (xor)', 1),
      'unexpected "x" expecting logic operator (and, or)',
    );
    expect(parseLogic('messages.not.and', '(a.eq.1)')).toEqual({ ...and(flt('a', 'eq', '1')), negate: true });
  });

  test('and/or groups nest at most 32 deep, and deeper input is a 400, not a stack overflow', () => {
    const nested = (depth: number) => `(${'and('.repeat(depth)}a.eq.1${')'.repeat(depth)})`;
    expect(parseLogic('or', nested(31))).toMatchObject({ kind: 'logic' });
    expect(rejection(() => parseLogic('or', nested(32))).extra.details).toBe(
      'and/or groups nest deeper than 32 levels',
    );
    expect(rejection(() => parseLogic('or', nested(100_000))).status).toBe(400);
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseOrder', () => {
  test.each<[string, OrderTerm[]]>([
    ['id', [term('id')]],
    ['id.desc', [term('id', { direction: 'desc' })]],
    ['id.asc.nullsfirst', [term('id', { direction: 'asc', nulls: 'first' })]],
    ['id.nullslast', [term('id', { nulls: 'last' })]],
    ['name.desc.nullsfirst,id', [term('name', { direction: 'desc', nulls: 'first' }), term('id')]],
    ['name.desc , id ', [term('name', { direction: 'desc' }), term('id')]],
    ['json_col->key.asc.nullslast', [term(fld('json_col', ['->', 'key']), { direction: 'asc', nulls: 'last' })]],
    ['data->0.desc', [term(fld('data', ['->', 0]), { direction: 'desc' })]],
    ['author(name).desc', [term('name', { relation: 'author', direction: 'desc' })]],
    [
      'author(data->>n).desc.nullsfirst,id',
      [term(fld('data', ['->>', 'n']), { relation: 'author', direction: 'desc', nulls: 'first' }), term('id')],
    ],
    ['"my col".desc', [term('my col', { direction: 'desc' })]],
  ])('parses %j', (text, terms) => {
    expect(parseOrder(text)).toEqual(terms);
  });

  test.each([
    ['', 1, 'unexpected end of input expecting field name (* or [a..z0..9_$])'],
    ['id,', 4, 'unexpected end of input expecting field name (* or [a..z0..9_$])'],
    ['id.ac', 4, 'unexpected "a" expecting "asc", "desc", "nullsfirst" or "nullslast"'],
    ['id.descc', 8, 'unexpected "c" expecting delimiter (.), "," or end of input'],
    ['id.nulsfist', 4, 'unexpected "n" expecting "asc", "desc", "nullsfirst" or "nullslast"'],
    ['id.nullslasttt', 13, 'unexpected "t" expecting "," or end of input'],
    ['id.asc.nlsfst', 8, 'unexpected "n" expecting "nullsfirst" or "nullslast"'],
    ['id.desc.desc', 9, 'unexpected "d" expecting "nullsfirst" or "nullslast"'],
    ['id.nullsfirst.desc', 14, 'unexpected "." expecting "," or end of input'],
    ['clients(name,id)', 13, 'unexpected "," expecting ")"'],
    ['id;desc', 3, 'unexpected ";" expecting delimiter (.), "," or end of input'],
  ])('refuses %j at column %i', (text, column, details) => {
    expectParseError(() => parseOrder(text), at(`failed to parse order (${text})`, column), details);
  });
});

// ---------------------------------------------------------------------------------------------

describe('parseReadQuery', () => {
  const read = (qs: string) => parseReadQuery(new URLSearchParams(qs));
  const query = (q: Partial<ReadQuery>): ReadQuery => ({ select: [star], filters: [], order: [], ranges: [], ...q });

  test.each<[string, ReadQuery]>([
    ['', query({})],
    ['select=', query({})],
    ['select=id,author(name)', query({ select: [col('id'), embed('author', [col('name')])] })],
    ['select=id&select=name', query({ select: [col('id')] })],
    ['id=eq.1', query({ filters: [{ path: [], condition: flt('id', 'eq', '1') }] })],
    [
      'id=gt.1&id=lt.5',
      query({
        filters: [
          { path: [], condition: flt('id', 'gt', '1') },
          { path: [], condition: flt('id', 'lt', '5') },
        ],
      }),
    ],
    ['data->>name=eq.x', query({ filters: [{ path: [], condition: flt(fld('data', ['->>', 'name']), 'eq', 'x') }] })],
    ['messages.author_id=eq.1', query({ filters: [{ path: ['messages'], condition: flt('author_id', 'eq', '1') }] })],
    ['a.b=eq.1', query({ filters: [{ path: ['a'], condition: flt('b', 'eq', '1') }] })],
    [
      'a.b.data->>c=is.null',
      query({ filters: [{ path: ['a', 'b'], condition: flt(fld('data', ['->>', 'c']), 'is', 'null') }] }),
    ],
    ['or=(a.eq.1,b.eq.2)', query({ filters: [{ path: [], condition: or(flt('a', 'eq', '1'), flt('b', 'eq', '2')) }] })],
    ['not.and=(a.eq.1)', query({ filters: [{ path: [], condition: { ...and(flt('a', 'eq', '1')), negate: true } }] })],
    ['messages.or=(a.eq.1)', query({ filters: [{ path: ['messages'], condition: or(flt('a', 'eq', '1')) }] })],
    [
      'messages.not.or=(a.eq.1)',
      query({ filters: [{ path: ['messages'], condition: { ...or(flt('a', 'eq', '1')), negate: true } }] }),
    ],
    ['order=id.desc', query({ order: [{ path: [], terms: [term('id', { direction: 'desc' })] }] })],
    ['author.order=name', query({ order: [{ path: ['author'], terms: [term('name')] }] })],
    [
      'order=author(name).desc',
      query({ order: [{ path: [], terms: [term('name', { relation: 'author', direction: 'desc' })] }] }),
    ],
    ['limit=10&offset=20', query({ ranges: [{ path: [], limit: 10, offset: 20 }] })],
    ['limit=0', query({ ranges: [{ path: [], limit: 0 }] })],
    ['offset=5', query({ ranges: [{ path: [], offset: 5 }] })],
    ['limit=1&limit=2', query({ ranges: [{ path: [], limit: 2 }] })],
    [
      'messages.limit=5&messages.offset=2&limit=1',
      query({
        ranges: [
          { path: ['messages'], limit: 5, offset: 2 },
          { path: [], limit: 1 },
        ],
      }),
    ],
    ['columns=a,b&on_conflict=id&apikey=secret', query({})],
    ['name=eq.a+b', query({ filters: [{ path: [], condition: flt('name', 'eq', 'a b') }] })],
    ['name=eq.a%2Cb%26c', query({ filters: [{ path: [], condition: flt('name', 'eq', 'a,b&c') }] })],
  ])('routes %j', (qs, expected) => {
    expect(read(qs)).toEqual(expected);
  });

  test.each([
    ['limit=-1', '"failed to parse limit parameter (-1)" (line 1, column 1)', 'unexpected "-" expecting digit'],
    ['limit=abc', '"failed to parse limit parameter (abc)" (line 1, column 1)', 'unexpected "a" expecting digit'],
    ['limit=1.5', '"failed to parse limit parameter (1.5)" (line 1, column 2)', 'unexpected "." expecting digit'],
    ['limit=', '"failed to parse limit parameter ()" (line 1, column 1)', 'unexpected end of input expecting digit'],
    [
      'limit=99999999999999999999',
      '"failed to parse limit parameter (99999999999999999999)" (line 1, column 1)',
      'unexpected number too large',
    ],
    ['offset=-3', '"failed to parse offset parameter (-3)" (line 1, column 1)', 'unexpected "-" expecting digit'],
    [
      'messages.offset=x',
      '"failed to parse offset parameter (x)" (line 1, column 1)',
      'unexpected "x" expecting digit',
    ],
    [
      'id=5',
      '"failed to parse filter (5)" (line 1, column 1)',
      'unexpected "5" expecting "not" or operator (eq, gt, ...)',
    ],
    [
      'id=',
      '"failed to parse filter ()" (line 1, column 1)',
      'unexpected end of input expecting "not" or operator (eq, gt, ...)',
    ],
    [
      '_=1780199700877',
      '"failed to parse filter (1780199700877)" (line 1, column 1)',
      'unexpected "1" expecting "not" or operator (eq, gt, ...)',
    ],
    [
      'a..b=eq.1',
      '"failed to parse tree path (a..b)" (line 1, column 3)',
      'unexpected "." expecting field name (* or [a..z0..9_$])',
    ],
    [
      'xor.or=(a.eq.1',
      '"failed to parse logic tree ((a.eq.1)" (line 1, column 10)',
      'unexpected end of input expecting ")" or ","',
    ],
    [
      'order=',
      '"failed to parse order ()" (line 1, column 1)',
      'unexpected end of input expecting field name (* or [a..z0..9_$])',
    ],
  ])('refuses %j', (qs, message, details) => {
    const err = expectParseError(() => read(qs), message, details);
    expect(err.extra.hint === null || typeof err.extra.hint === 'string').toBe(true);
  });

  test('a bad limit says what a limit takes', () => {
    expect(rejection(() => read('limit=-1')).extra.hint).toBe('limit must be a non-negative integer');
  });
});

// ---------------------------------------------------------------------------------------------

describe('injection-looking input is inert data or a 400', () => {
  const read = (qs: string) => parseReadQuery(new URLSearchParams(qs));

  test.each([
    'select=id;drop table x',
    'select=id;--',
    'select=*/**/',
    'select=id--comment',
    "select=id'",
    'order=id;desc',
    'order=id desc; drop table x',
    'id;drop=eq.1',
    'or=(id.eq.1);drop table x',
    'id=in.(1);drop table x',
    'id=is.null;drop table x',
    'select=author(id));drop table x;--',
    "select=a'b:id",
    'select=id::"text);drop"',
    'select=id::text;drop',
  ])('refuses %j with a 400', (qs) => {
    const err = rejection(() => read(qs));
    expect([err.status, err.code]).toEqual([400, 'PGRST100']);
  });

  test.each<[string, ReadQuery['filters'][number]['condition'] | SelectItem[]]>([
    ["name=eq.'; drop table x; --", flt('name', 'eq', "'; drop table x; --")],
    ['name=in.("); drop table x; --",b)', flt('name', 'in', ['); drop table x; --', 'b'])],
    ["data->>'';drop table x=eq.1", flt(fld('data', ['->>', "'';drop table x"]), 'eq', '1')],
    ['or=(name.eq."x\') or 1=1 --")', or(flt('name', 'eq', "x') or 1=1 --"))],
    ['select="x\\" from users; --":id', [col('id', { alias: 'x" from users; --' })]],
    ['select="); drop table x; --"', [col('); drop table x; --')]],
    ['select="...rel"(id)', [embed('...rel', [col('id')])]],
    ['select="count()"', [col('count()')]],
  ])('keeps %j as data', (qs, expected) => {
    const q = read(qs);
    if (Array.isArray(expected)) expect(q.select).toEqual(expected);
    else expect(q.filters).toEqual([{ path: [], condition: expected }]);
  });
});

describe('cast targets spliced into SQL', () => {
  test.each([
    'text',
    'int[]',
    'numeric(10,2)',
    'public.mood',
    'double precision',
    'timestamp with time zone',
    'timestamp(3) without time zone',
    'character varying(20)[]',
  ])('accepts %j', (type) => expect(castType(type)).toBe(type));
  test.each([
    'text from rooms t0 union select usename from pg_user union select name',
    'int; drop table x',
    'text)',
    'a b',
    'text--',
    '"quoted"',
    'x'.repeat(101),
  ])('refuses %j', (type) => expect(() => castType(type)).toThrow(/is not a valid type name/));
});
