import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { pickFunction, planRpc, type RpcPlan } from '../../src/rest/plan-rpc.js';
import type { RpcRequest } from '../../src/rest/request.js';
import type { Column, DbFunction, Relation, SchemaCache } from '../../src/rest/schema.js';

// ---- a schema cache of one table and the functions below

const col = (name: string, type: string): [string, Column] => [
  name,
  { name, type, nullable: true, hasDefault: false, generated: false },
];
const todos: Relation = {
  schema: 'public',
  name: 'todos',
  kind: 'table',
  columns: new Map([col('id', 'bigint'), col('title', 'text')]),
  primaryKey: ['id'],
  insertable: true,
};

type Arg = [name: string, type: string, hasDefault?: boolean];
const fn = (name: string, args: Arg[], returnType: string, more: Partial<DbFunction> = {}): DbFunction => ({
  schema: 'public',
  name,
  args: args.map(([n, type, hasDefault]) => ({ name: n, type, hasDefault: hasDefault ?? false })),
  returnType,
  returnsSet: false,
  returnsComposite: false,
  volatility: 'volatile',
  ...more,
});
const FUNCTIONS: DbFunction[] = [
  fn('ping', [], 'void'),
  fn(
    'add',
    [
      ['a', 'integer'],
      ['b', 'integer', true],
    ],
    'integer',
    { volatility: 'immutable' },
  ),
  fn('echo', [['', 'jsonb']], 'jsonb'),
  fn('numbers', [['n', 'integer']], 'SETOF integer', { returnsSet: true, volatility: 'stable' }),
  fn('list_todos', [['done', 'boolean']], 'SETOF todos', { returnsSet: true, returnsComposite: true }),
  fn('first_todo', [], 'todos', { returnsComposite: true, volatility: 'stable' }),
  fn('pairs', [], 'SETOF record', { returnsSet: true, returnsComposite: true }),
  // Overloads: one name, two argument lists.
  fn('greet', [['name', 'text']], 'text'),
  fn(
    'greet',
    [
      ['name', 'text'],
      ['loud', 'boolean'],
    ],
    'text',
  ),
  fn('either', [['x', 'integer', true]], 'integer'),
  fn('either', [['y', 'integer', true]], 'integer'),
];
const cache: SchemaCache = {
  schemas: ['public'],
  relation: (schema, name) => (schema === 'public' && name === 'todos' ? todos : undefined),
  foreignKeys: () => [],
  functions: (schema, name) => (schema === 'public' ? FUNCTIONS.filter((f) => f.name === name) : []),
};
const MAX_ROWS = 1000;

const call = (
  name: string,
  method: RpcRequest['method'],
  qs = '',
  body?: unknown,
  range?: RpcRequest['range'],
): RpcRequest => ({
  action: 'rpc',
  schema: 'public',
  prefer: {},
  plan: undefined,
  geojson: false,
  single: false,
  stripNulls: false,
  head: method === 'HEAD',
  name,
  method,
  params: [...new URLSearchParams(qs)],
  body: body === undefined ? undefined : { text: JSON.stringify(body), value: body },
  range,
});
const plan = (request: RpcRequest): RpcPlan => planRpc(cache, request, MAX_ROWS);

function failure(run: () => unknown): {
  status: number;
  code: string;
  message: string;
  details?: string | null;
  hint?: string | null;
} {
  try {
    run();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const { details, hint } = err.extra;
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      ...(details !== undefined && { details }),
      ...(hint !== undefined && { hint }),
    };
  }
  throw new Error('expected an ApiError');
}

const A = `from json_to_record($1::json) as _a`;

describe('result shapes: the SQL text and values', () => {
  test.each<[string, RpcRequest, RpcPlan]>([
    [
      'void, no arguments: unwrapped, so the call always runs',
      call('ping', 'POST'),
      {
        text: `select "public"."ping"() as _void, ''::text as body, 0 as bytes, 1 as page, null::bigint as total`,
        values: [],
        capped: true,
        returnsVoid: true,
        offset: 0,
        readOnly: false,
      },
    ],
    [
      'a scalar, POST arguments by name',
      call('add', 'POST', '', { a: 1, b: 2 }),
      {
        text: `select to_json("public"."add"("a" := _a."a", "b" := _a."b"))::text as body, 1 as page, null::bigint as total ${A}("a" integer, "b" integer)`,
        values: ['{"a":1,"b":2}'],
        capped: false,
        returnsVoid: false,
        offset: 0,
        // Immutable: read-only even by POST.
        readOnly: true,
      },
    ],
    [
      'a scalar, an argument with a default left out',
      call('add', 'POST', '', { a: 1 }),
      {
        text: `select to_json("public"."add"("a" := _a."a"))::text as body, 1 as page, null::bigint as total ${A}("a" integer)`,
        values: ['{"a":1}'],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: true,
      },
    ],
    [
      'a single unnamed jsonb argument takes the whole body',
      call('echo', 'POST', '', { any: [1, 2], thing: null }),
      {
        text: `select to_json("public"."echo"($1::jsonb))::text as body, 1 as page, null::bigint as total`,
        values: ['{"any":[1,2],"thing":null}'],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: false,
      },
    ],
    [
      'a single unnamed jsonb argument takes a JSON null body',
      call('echo', 'POST', '', null),
      // The whole body stands for the argument: `{"": null}`, as it always has.
      {
        text: `select to_json("public"."echo"($1::jsonb))::text as body, 1 as page, null::bigint as total`,
        values: ['{"":null}'],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: false,
      },
    ],
    [
      'a single unnamed jsonb argument takes a body that is not an object',
      call('echo', 'POST', '', [1, 'two']),
      {
        text: `select to_json("public"."echo"($1::jsonb))::text as body, 1 as page, null::bigint as total`,
        values: ['[1,"two"]'],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: false,
      },
    ],
    [
      // The values carry the root limit although this text does not read it (as it always has).
      'setof a scalar: a JSON array of the values',
      call('numbers', 'GET', 'n=3'),
      {
        text: `select coalesce(json_agg(_v.v), '[]'::json)::text as body, count(*) as page, null::bigint as total from (select "public"."numbers"("n" := _a."n") as v ${A}("n" integer)) as _v`,
        // Only the arguments: a limit parameter the text does not use would be refused by PostgreSQL.
        values: ['{"n":"3"}'],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: true,
      },
    ],
    [
      'setof a table, POST: rows of the table type, limited to REST_MAX_ROWS',
      call('list_todos', 'POST', '', { done: true }),
      {
        text: `select coalesce(json_agg(_r), '[]'::json)::text as body, count(_r) as page, null::bigint as total from (select t0.* from (select (r).* from (select "public"."list_todos"("done" := _a."done") as r ${A}("done" boolean)) as _c) as t0 limit $2) as _r`,
        values: ['{"done":true}', 1000],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: false,
      },
    ],
    [
      'setof a table, GET: arguments from the query string, the other params shape the rows',
      call('list_todos', 'GET', 'done=true&select=id&id=gt.1&order=id.desc&limit=5&offset=2'),
      {
        text:
          `select coalesce(json_agg(_r), '[]'::json)::text as body, count(_r) as page, null::bigint as total from (select t0."id" as "id" from (select (r).* from ` +
          `(select "public"."list_todos"("done" := _a."done") as r ${A}("done" boolean)) as _c) as t0 where t0."id" > $2 order by t0."id" desc limit $3 offset $4) as _r`,
        values: ['{"done":"true"}', '1', 5, 2],
        capped: false,
        returnsVoid: false,
        offset: 2,
        readOnly: true,
      },
    ],
    [
      'one composite, no arguments: one object',
      call('first_todo', 'GET'),
      {
        text: `select (array_agg(to_json(_r)))[1]::text as body, count(_r) as page, null::bigint as total from (select t0.* from (select (r).* from (select "public"."first_todo"() as r) as _c) as t0 limit $1) as _r`,
        values: [1000],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: true,
      },
    ],
    [
      'setof record: columns are not checked',
      call('pairs', 'POST', 'select=k'),
      {
        text: `select coalesce(json_agg(_r), '[]'::json)::text as body, count(_r) as page, null::bigint as total from (select t0."k" as "k" from (select (r).* from (select "public"."pairs"() as r) as _c) as t0 limit $1) as _r`,
        values: [1000],
        capped: false,
        returnsVoid: false,
        offset: 0,
        readOnly: false,
      },
    ],
  ])('%s', (_name, request, expected) => {
    expect(plan(request)).toEqual(expected);
  });
});

describe('GET arguments and filters', () => {
  test('a param named like an argument is an argument; the others are filters', () => {
    const planned = plan(call('list_todos', 'GET', 'done=false&title=eq.a'));
    expect(planned.values).toEqual(['{"done":"false"}', 'a', 1000]);
    expect(planned.text).toContain(`where t0."title" = $2 limit $3`);
  });

  test('on POST every param is a filter, even one named like an argument', () => {
    const planned = plan(call('first_todo', 'POST', 'title=eq.a'));
    expect(planned.values).toEqual(['a', 1000]);
    expect(planned.text).toContain(`where t0."title" = $1 limit $2`);
    // `done` names an argument of list_todos, not a column of todos: by POST it is a filter, and fails as one.
    expect(failure(() => plan(call('list_todos', 'POST', 'done=is.true', { done: false })))).toMatchObject({
      status: 400,
      code: '42703',
    });
  });

  test('HEAD reads arguments like GET, read-only', () => {
    expect(plan(call('add', 'HEAD', 'a=1'))).toMatchObject({ values: ['{"a":"1"}'], readOnly: true });
  });

  test('a volatile function runs read-only only when called by GET', () => {
    expect(plan(call('ping', 'GET')).readOnly).toBe(true);
    expect(plan(call('ping', 'POST')).readOnly).toBe(false);
    expect(plan(call('add', 'POST', '', { a: 1 })).readOnly).toBe(true);
  });

  test('a Range applies when the query string gives no root range', () => {
    expect(plan(call('list_todos', 'GET', 'done=true', undefined, { offset: 10, limit: 5 })).values).toEqual([
      '{"done":"true"}',
      5,
      10,
    ]);
    expect(plan(call('list_todos', 'GET', 'done=true&limit=2', undefined, { offset: 10, limit: 5 })).values).toEqual([
      '{"done":"true"}',
      2,
    ]);
    // Capped at REST_MAX_ROWS, like any read.
    expect(plan(call('list_todos', 'GET', 'done=true', undefined, { offset: 0, limit: undefined })).values).toEqual([
      '{"done":"true"}',
      1000,
    ]);
    expect(plan(call('list_todos', 'GET', 'done=true', undefined, { offset: 3, limit: 5000 })).values).toEqual([
      '{"done":"true"}',
      1000,
      3,
    ]);
  });

  test('a malformed Range is answered after the function is found and its filters parse', () => {
    const range = new ApiError(416, 'PGRST103', 'Requested range not satisfiable');
    expect(failure(() => plan(call('list_todos', 'GET', 'done=true', undefined, range))).code).toBe('PGRST103');
    expect(failure(() => plan(call('nope', 'GET', '', undefined, range))).code).toBe('PGRST202');
    expect(failure(() => plan(call('list_todos', 'GET', 'done=true&id=bogus', undefined, range))).code).toBe(
      'PGRST100',
    );
  });
});

describe('overload choice', () => {
  test.each<[string, string[], Arg[]]>([
    ['greet', ['name'], [['name', 'text']]],
    [
      'greet',
      ['name', 'loud'],
      [
        ['name', 'text'],
        ['loud', 'boolean'],
      ],
    ],
    ['either', ['x'], [['x', 'integer', true]]],
    ['either', ['y'], [['y', 'integer', true]]],
    [
      'add',
      ['a'],
      [
        ['a', 'integer'],
        ['b', 'integer', true],
      ],
    ],
    // No named argument fits: the function taking one unnamed json argument takes the body.
    ['echo', ['whatever'], [['', 'jsonb']]],
    ['echo', [], [['', 'jsonb']]],
  ])('%s(%j) is the overload %j', (name, given, args) => {
    expect(pickFunction(cache, 'public', name, given).args).toEqual(
      args.map(([n, type, hasDefault]) => ({ name: n, type, hasDefault: hasDefault ?? false })),
    );
  });

  test('two overloads that fit are 300 PGRST203', () => {
    expect(failure(() => plan(call('either', 'POST')))).toEqual({
      status: 300,
      code: 'PGRST203',
      message:
        'Could not choose the best candidate function between: public.either(x => integer), public.either(y => integer)',
      details: null,
      hint: 'Try renaming the parameters or the function itself in the database so function overloading can be resolved',
    });
  });

  // As PostgREST words them: a POST may also have meant one json/jsonb body; the hint guesses the
  // parameters of the nearest overload.
  test.each([
    [
      call('nope', 'POST'),
      'Could not find the function public.nope without parameters in the schema cache',
      'Searched for the function public.nope without parameters or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      null,
    ],
    [
      call('greet', 'POST', '', { shout: true, name: 'a' }),
      'Could not find the function public.greet(name, shout) in the schema cache',
      'Searched for the function public.greet with parameters name, shout or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      'Perhaps you meant to call the function public.greet(name)',
    ],
    [
      // A required argument missing.
      call('add', 'POST', '', { b: 2 }),
      'Could not find the function public.add(b) in the schema cache',
      'Searched for the function public.add with parameter b or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.',
      'Perhaps you meant to call the function public.add(a, b)',
    ],
    [
      // GET: a param not named like an argument is a filter, so the call has no arguments.
      call('greet', 'GET', 'who=eq.a'),
      'Could not find the function public.greet without parameters in the schema cache',
      'Searched for the function public.greet without parameters, but no matches were found in the schema cache.',
      null,
    ],
  ])('%j is 404 PGRST202', (request, message, details, hint) => {
    expect(failure(() => plan(request))).toEqual({ status: 404, code: 'PGRST202', message, details, hint });
  });

  test('an unknown name is told the closest one in its schema, if one is close', () => {
    const named: SchemaCache = { ...cache, functionNames: () => ['list_todos', 'first_todo', 'greet'] };
    const hint = (name: string) => failure(() => planRpc(named, call(name, 'POST'), MAX_ROWS)).hint;
    expect(hint('list_todo')).toBe('Perhaps you meant to call the function public.list_todos');
    expect(hint('nothing_like_it')).toBeNull();
  });

  test('overloads that fit are listed fewest parameters first, then by name and type', () => {
    const shuffled: SchemaCache = {
      ...cache,
      functions: (_schema, name) =>
        name === 'pick'
          ? [
              fn('pick', [['a', 'text', true]], 'int'),
              fn(
                'pick',
                [
                  ['a', 'integer', true],
                  ['b', 'text', true],
                ],
                'int',
              ),
              fn('pick', [['a', 'integer', true]], 'int'),
              fn('pick', [], 'int'),
            ]
          : [],
    };
    expect(failure(() => planRpc(shuffled, call('pick', 'POST'), MAX_ROWS)).message).toBe(
      'Could not choose the best candidate function between: public.pick(), public.pick(a => integer), public.pick(a => text), public.pick(a => integer, b => text)',
    );
  });

  test('a body key "" names the unnamed parameter', () => {
    const unnamed: SchemaCache = {
      ...cache,
      functions: (_schema, name) => (name === 'shout' ? [fn('shout', [['', 'text']], 'text')] : []),
    };
    expect(planRpc(unnamed, call('shout', 'POST', '', { '': 'hi' }), MAX_ROWS).values).toEqual(['"hi"']);
  });
});

describe('Prefer: count on a call', () => {
  const counted = (request: RpcRequest, count: 'exact' | 'planned' | 'estimated') =>
    plan({ ...request, prefer: { count } });

  test('a set is counted after its filters and before its range, from one call in a CTE', () => {
    const planned = counted(call('list_todos', 'GET', 'done=true&id=gt.1&limit=5&offset=2'), 'exact');
    expect(planned.text).toBe(
      `with _src as (select (r).* from (select "public"."list_todos"("done" := _a."done") as r ${A}("done" boolean)) as _c) ` +
        `select coalesce(json_agg(_r), '[]'::json)::text as body, count(_r) as page, ` +
        `(select count(*) from (select t0.* from _src as t0 where t0."id" > $5) as _n) as total ` +
        `from (select t0.* from _src as t0 where t0."id" > $2 limit $3 offset $4) as _r`,
    );
    expect(planned.values).toEqual(['{"done":"true"}', '1', 5, 2, '1']);
    expect(planned.offset).toBe(2);
  });

  test.each<[string, RpcRequest, 'exact' | 'planned' | 'estimated', string]>([
    ['a scalar counts as one row', call('add', 'POST', '', { a: 1 }), 'exact', '1::bigint as total'],
    ['estimated is exact on calls', call('add', 'POST', '', { a: 1 }), 'estimated', '1::bigint as total'],
    ['planned is not counted on calls', call('add', 'POST', '', { a: 1 }), 'planned', 'null::bigint as total'],
    ['setof a scalar counts its values', call('numbers', 'POST', '', { n: 3 }), 'exact', 'count(*) as total'],
  ])('%s', (_name, request, count, total) => {
    expect(counted(request, count).text).toContain(total);
  });
});

describe('Prefer: max-affected on a call', () => {
  const strict = (request: RpcRequest, handling: 'strict' | 'lenient' = 'strict') =>
    plan({ ...request, prefer: { maxAffected: 1, handling } });

  test.each<[string, RpcRequest]>([
    ['a scalar', call('add', 'POST', '', { a: 1 })],
    ['void', call('ping', 'POST')],
    ['one composite', call('first_todo', 'POST')],
  ])('with handling=strict, %s is refused: it returns no set to count', (_name, request) => {
    expect(failure(() => strict(request))).toEqual({
      status: 400,
      code: 'PGRST128',
      message: 'Function must return SETOF or TABLE when max-affected preference is used with handling=strict',
      details: null,
      hint: null,
    });
  });

  test('a set-returning function is planned as usual; lenient handling refuses nothing', () => {
    expect(strict(call('list_todos', 'POST', '', { done: true })).text).toBe(
      plan(call('list_todos', 'POST', '', { done: true })).text,
    );
    expect(strict(call('add', 'POST', '', { a: 1 }), 'lenient').text).toContain('"public"."add"');
  });
});
