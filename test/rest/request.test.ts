import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { parseReadQuery } from '../../src/rest/parse.js';
import {
  parseJsonBody,
  parseRange,
  parseRestRequest,
  withRange,
  type RestHeaders,
  type RestInput,
  type RestRequest,
} from '../../src/rest/request.js';
import type { Relation, SchemaCache } from '../../src/rest/schema.js';

// ---- a schema cache with one table in each exposed schema

const table = (schema: string, name: string): Relation => ({
  schema,
  name,
  kind: 'table',
  columns: new Map(),
  primaryKey: ['id'],
  insertable: true,
});
const todos = table('public', 'todos');
const audit = table('audit', 'todos');
const cache: SchemaCache = {
  schemas: ['public', 'audit'],
  relation: (schema, name) =>
    name !== 'todos' ? undefined : schema === 'public' ? todos : schema === 'audit' ? audit : undefined,
  foreignKeys: () => [],
  functions: () => [],
};
const SCHEMAS = ['public', 'audit'];

const input = (
  method: string,
  extra: { qs?: string; headers?: RestHeaders; body?: string; fn?: string; name?: string } = {},
): RestInput => ({
  method,
  target:
    extra.fn !== undefined ? { kind: 'function', name: extra.fn } : { kind: 'relation', name: extra.name ?? 'todos' },
  search: new URLSearchParams(extra.qs ?? ''),
  headers: extra.headers ?? {},
  body: extra.body ?? '',
});
const parse = (i: RestInput): RestRequest => parseRestRequest(i, SCHEMAS, cache);

/** The ApiError a call throws, as the fields a client sees. */
function failure(run: () => unknown): { status: number; code: string; message: string; details?: string | null } {
  try {
    run();
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    return {
      status: err.status,
      code: err.code,
      message: err.message,
      ...(err.extra.details !== undefined && { details: err.extra.details }),
    };
  }
  throw new Error('expected an ApiError');
}

describe('method and target → action', () => {
  test.each([
    ['GET', 'relation', 'read'],
    ['HEAD', 'relation', 'read'],
    ['POST', 'relation', 'insert'],
    ['PATCH', 'relation', 'update'],
    ['DELETE', 'relation', 'delete'],
    ['GET', 'function', 'rpc'],
    ['HEAD', 'function', 'rpc'],
    ['POST', 'function', 'rpc'],
  ] as const)('%s on a %s is %s', (method, kind, action) => {
    const request = parse(input(method, kind === 'function' ? { fn: 'add' } : {}));
    expect(request.action).toBe(action);
    expect(request.head).toBe(method === 'HEAD');
  });

  test.each([
    ['PUT', {}],
    ['PATCH', { fn: 'add' }],
    ['DELETE', { fn: 'add' }],
  ] as const)('%s %j is 405 PGRST117', (method, extra) => {
    expect(failure(() => parse(input(method, extra)))).toEqual({
      status: 405,
      code: 'PGRST117',
      message: `Unsupported HTTP method: ${method}`,
    });
  });

  test('a table missing from the schema cache is 404 PGRST205, before the query string is read', () => {
    expect(failure(() => parse(input('GET', { name: 'nope', qs: 'id=bogus' })))).toEqual({
      status: 404,
      code: 'PGRST205',
      message: "Could not find the table 'public.nope' in the schema cache",
      details: null,
    });
  });
});

describe('profiles', () => {
  test.each([
    ['GET', {}, 'public'],
    ['GET', { acceptProfile: 'audit' }, 'audit'],
    ['GET', { contentProfile: 'audit' }, 'public'],
    ['HEAD', { acceptProfile: 'audit' }, 'audit'],
    ['POST', { contentProfile: 'audit' }, 'audit'],
    ['POST', { acceptProfile: 'audit' }, 'public'],
    ['PATCH', { contentProfile: 'audit' }, 'audit'],
    ['DELETE', { contentProfile: 'audit' }, 'audit'],
  ] as const)('%s with %j addresses %s', (method, headers, schema) => {
    const request = parse(input(method, { headers }));
    expect(request.schema).toBe(schema);
    expect('relation' in request && request.relation).toBe(schema === 'audit' ? audit : todos);
  });

  test.each([
    ['GET', { acceptProfile: 'audit' }, 'audit'],
    ['POST', { contentProfile: 'audit' }, 'audit'],
    ['POST', { acceptProfile: 'audit' }, 'public'],
  ] as const)('rpc %s with %j addresses %s', (method, headers, schema) => {
    expect(parse(input(method, { fn: 'add', headers })).schema).toBe(schema);
  });

  test.each([
    ['GET', { acceptProfile: 'private' }, {}],
    ['POST', { contentProfile: 'private' }, {}],
    ['GET', { acceptProfile: '' }, {}],
    ['GET', { acceptProfile: 'private' }, { fn: 'add' }],
    ['POST', { contentProfile: 'private' }, { fn: 'add', body: 'not json' }],
    // The profile is checked before the table is looked up.
    ['GET', { acceptProfile: 'private' }, { name: 'nope' }],
  ] as const)('%s with %j (%j) is 406 PGRST106', (method, headers, extra) => {
    expect(failure(() => parse(input(method, { ...extra, headers })))).toEqual({
      status: 406,
      code: 'PGRST106',
      message: 'The schema must be one of the following: public, audit',
    });
  });
});

describe('Range header', () => {
  test.each([
    [undefined, undefined],
    ['', undefined],
    ['0-9', { offset: 0, limit: 10 }],
    ['items=0-9', { offset: 0, limit: 10 }],
    [' 5-5 ', { offset: 5, limit: 1 }],
    ['10-', { offset: 10, limit: undefined }],
    ['items=3-', { offset: 3, limit: undefined }],
  ] as const)('%j is %j', (header, range) => {
    expect(parseRange(header)).toEqual(range);
  });

  test.each([
    ['bytes=0-9', '"bytes=0-9" is not a range like 0-9'],
    ['-5', '"-5" is not a range like 0-9'],
    ['a-b', '"a-b" is not a range like 0-9'],
    ['0-9,20-29', '"0-9,20-29" is not a range like 0-9'],
    [`${'9'.repeat(50)}x`, `"${'9'.repeat(40)}" is not a range like 0-9`],
    ['9-3', 'The lower boundary must be lower than or equal to the upper boundary'],
  ])('%j is 416 PGRST103', (header, details) => {
    expect(failure(() => parseRange(header))).toEqual({
      status: 416,
      code: 'PGRST103',
      message: 'Requested range not satisfiable',
      details,
    });
  });

  test('a read takes the Range as its root range when the query gives none', () => {
    const request = parse(input('GET', { qs: 'select=id', headers: { range: '10-19' } }));
    expect(request.action === 'read' && request.query).toEqual(
      withRange(parseReadQuery(new URLSearchParams('select=id')), { offset: 10, limit: 10 }),
    );
    expect(request.action === 'read' && request.query.ranges).toEqual([{ path: [], limit: 10, offset: 10 }]);
  });

  test.each(['limit=5', 'offset=3', 'limit=5&offset=3'])('a read with %s keeps its own range over the header', (qs) => {
    const request = parse(input('GET', { qs, headers: { range: '10-19' } }));
    expect(request.action === 'read' && request.query).toEqual(parseReadQuery(new URLSearchParams(qs)));
  });

  test('a range on an embed does not stop the header applying to the root', () => {
    const qs = 'select=id,tags(name)&tags.limit=2';
    const request = parse(input('GET', { qs, headers: { range: '0-4' } }));
    expect(request.action === 'read' && request.query.ranges).toEqual([
      { path: ['tags'], limit: 2 },
      { path: [], limit: 5, offset: 0 },
    ]);
  });

  test('a malformed Range on a read is 416, after the query string parsed', () => {
    expect(failure(() => parse(input('GET', { headers: { range: 'x' } }))).code).toBe('PGRST103');
    expect(failure(() => parse(input('GET', { qs: 'id=bogus', headers: { range: 'x' } }))).code).toBe('PGRST100');
  });

  test('writes ignore the Range header', () => {
    for (const method of ['POST', 'PATCH', 'DELETE']) {
      const request = parse(input(method, { headers: { range: 'x' }, body: '{}' }));
      expect(request.action !== 'read' && request.action !== 'rpc' && request.query).toEqual(
        parseReadQuery(new URLSearchParams()),
      );
    }
  });

  test('an rpc keeps a malformed Range as its 416, answered once the function is planned', () => {
    const request = parse(input('GET', { fn: 'add', headers: { range: 'x' } }));
    expect(request.action === 'rpc' && request.range).toBeInstanceOf(ApiError);
    expect(parse(input('POST', { fn: 'add', headers: { range: '2-3' } }))).toMatchObject({
      range: { offset: 2, limit: 2 },
    });
  });
});

describe('Prefer', () => {
  test.each([
    [undefined, {}, false, false],
    ['return=representation', { return: 'representation' }, true, false],
    ['return=minimal', { return: 'minimal' }, false, false],
    ['return=headers-only', { return: 'headers-only' }, false, true],
    ['return=representation, count=exact', { return: 'representation', count: 'exact' }, true, false],
    [
      'resolution=merge-duplicates,missing=default',
      { resolution: 'merge-duplicates', missing: 'default' },
      false,
      false,
    ],
    ['tx=rollback, return=representation', { tx: 'rollback', return: 'representation' }, true, false],
    ['handling=strict, max-affected=5', { handling: 'strict', maxAffected: 5 }, false, false],
    ['max-affected=-1, count=wrong, return', {}, false, false],
    ['unknown=1, count=planned', { count: 'planned' }, false, false],
  ] as const)('POST with %j prefers %j', (header, prefer, representation, location) => {
    const request = parse(input('POST', { headers: { prefer: header }, body: '{}' }));
    expect(request).toMatchObject({ action: 'insert', prefer, representation, location });
    expect(request.prefer).toEqual(prefer);
  });

  test('only an insert answers a Location', () => {
    expect(parse(input('PATCH', { headers: { prefer: 'return=headers-only' }, body: '{}' }))).toMatchObject({
      location: false,
      representation: false,
    });
    expect(parse(input('DELETE', { headers: { prefer: 'return=representation' } }))).toMatchObject({
      location: false,
      representation: true,
    });
  });

  test.each([
    ['GET', {}],
    ['GET', { fn: 'add' }],
  ] as const)('%s %j reads count= and tx=', (method, extra) => {
    expect(parse(input(method, { ...extra, headers: { prefer: 'count=exact, tx=rollback' } })).prefer).toEqual({
      count: 'exact',
      tx: 'rollback',
    });
  });
});

describe('Accept', () => {
  test.each([
    [undefined, false, false],
    ['application/json', false, false],
    ['application/vnd.pgrst.object+json', true, false],
    ['application/vnd.pgrst.object+json;nulls=stripped', true, false],
    ['application/json, application/vnd.pgrst.object+json', true, false],
    ['text/csv', false, true],
    ['text/csv; charset=utf-8', false, true],
    ['application/json, text/csv', false, false],
  ] as const)('a read accepting %j: single %s, csv %s', (accept, single, csv) => {
    expect(parse(input('GET', { headers: { accept } }))).toMatchObject({ action: 'read', single, csv });
  });

  test.each([
    ['POST', { body: '{}' }],
    ['PATCH', { body: '{}' }],
    ['DELETE', {}],
    ['POST', { fn: 'add' }],
    ['GET', { fn: 'add' }],
  ] as const)('%s %j asks for a single object too', (method, extra) => {
    expect(parse(input(method, { ...extra, headers: { accept: 'application/vnd.pgrst.object+json' } })).single).toBe(
      true,
    );
  });
});

describe('Accept with nulls=stripped', () => {
  test.each([
    ['application/vnd.pgrst.object+json;nulls=stripped', true, true],
    ['application/vnd.pgrst.array+json;nulls=stripped', false, true],
    ['application/json;nulls=stripped', false, false],
    ['application/vnd.pgrst.object+json', true, false],
  ] as const)('%j: single %s, stripped %s', (accept, single, stripNulls) => {
    for (const request of [
      input('GET', { headers: { accept } }),
      input('PATCH', { body: '{}', headers: { accept } }),
      input('POST', { fn: 'add', headers: { accept } }),
    ])
      expect(parse(request)).toMatchObject({ single, stripNulls });
  });
});

describe('query string and body', () => {
  test('a read carries the parsed query', () => {
    const qs = 'select=id,title&done=eq.true&order=id.desc&limit=3';
    expect(parse(input('GET', { qs }))).toEqual({
      action: 'read',
      schema: 'public',
      prefer: {},
      single: false,
      stripNulls: false,
      head: false,
      plan: undefined,
      geojson: false,
      relation: todos,
      query: parseReadQuery(new URLSearchParams(qs)),
      csv: false,
    });
  });

  test('an insert carries columns=, on_conflict= and the body as text and value', () => {
    const body = '[{"id": 1, "title": "a"}]';
    expect(parse(input('POST', { qs: 'columns=id,title&on_conflict=id&select=id', body }))).toEqual({
      action: 'insert',
      schema: 'public',
      prefer: {},
      single: false,
      stripNulls: false,
      head: false,
      plan: undefined,
      geojson: false,
      relation: todos,
      query: parseReadQuery(new URLSearchParams('columns=id,title&on_conflict=id&select=id')),
      representation: false,
      location: false,
      body: { text: body, value: [{ id: 1, title: 'a' }] },
      columns: 'id,title',
      onConflict: 'id',
    });
  });

  test('an update reads no columns= or on_conflict=; a delete has no body', () => {
    expect(parse(input('PATCH', { qs: 'columns=id&on_conflict=id&id=eq.1', body: '{"done":true}' }))).toMatchObject({
      body: { text: '{"done":true}', value: { done: true } },
      columns: undefined,
      onConflict: undefined,
    });
    expect(parse(input('DELETE', { qs: 'id=eq.1', body: 'not json' }))).toMatchObject({
      action: 'delete',
      body: undefined,
    });
  });

  test('an rpc keeps its query string as it came (arguments are told from filters with the function)', () => {
    expect(parse(input('GET', { fn: 'add', qs: 'a=1&b=2&select=x&a=3' }))).toEqual({
      action: 'rpc',
      schema: 'public',
      prefer: {},
      single: false,
      stripNulls: false,
      head: false,
      plan: undefined,
      geojson: false,
      name: 'add',
      method: 'GET',
      params: [
        ['a', '1'],
        ['b', '2'],
        ['select', 'x'],
        ['a', '3'],
      ],
      body: undefined,
      range: undefined,
    });
    expect(parse(input('POST', { fn: 'add', body: '{"a":1}' }))).toMatchObject({
      method: 'POST',
      body: { text: '{"a":1}', value: { a: 1 } },
    });
  });

  test.each([
    ['', {}],
    ['  \n', {}],
    ['{"a":1}', { a: 1 }],
    ['[1,2]', [1, 2]],
    ['"text"', 'text'],
    ['null', null],
    ['12.5', 12.5],
  ])('the body %j is %j', (text, value) => {
    expect(parseJsonBody(text)).toEqual({ text, value });
  });

  test.each([['{'], ['{"a":}'], ['nul']])('the body %j is 400 PGRST102', (text) => {
    const err = failure(() => parseJsonBody(text));
    expect(err).toMatchObject({ status: 400, code: 'PGRST102', message: 'Empty or invalid json' });
    expect(typeof err.details).toBe('string');
  });

  test('a body nested deeper than 64 levels is 400 PGRST102', () => {
    expect(failure(() => parseJsonBody(`${'['.repeat(65)}${']'.repeat(65)}`))).toEqual({
      status: 400,
      code: 'PGRST102',
      message: 'JSON nested deeper than 64 levels',
      details: null,
    });
    expect(parseJsonBody(`${'['.repeat(64)}${']'.repeat(64)}`).text).toHaveLength(128);
  });

  test('errors come in the order they always did: table, query string, then body', () => {
    expect(failure(() => parse(input('POST', { name: 'nope', qs: 'id=bogus', body: '{' }))).code).toBe('PGRST205');
    expect(failure(() => parse(input('POST', { qs: 'id=bogus', body: '{' }))).code).toBe('PGRST100');
    expect(failure(() => parse(input('POST', { body: '{' }))).code).toBe('PGRST102');
    expect(failure(() => parse(input('POST', { fn: 'add', qs: 'id=bogus', body: '{' }))).code).toBe('PGRST102');
  });
});
