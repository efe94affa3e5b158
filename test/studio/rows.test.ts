/** The table editor's planner (pure): names quoted by ident, values as parameters, bad names refused. */
import { describe, expect, test } from 'vitest';
import { browseQuery, planBrowse, planDelete, planInsert, planUpdate } from '../../src/studio/rows.js';
import { issueSession, sessionValid } from '../../src/studio/session.js';
import { percentile } from '../../src/studio/metrics.js';

const columns = ['id', 'na"me', 'body'];

describe('planBrowse', () => {
  test.each([
    [{}, 'select to_jsonb(t) as row, count(*) over () as total from "public"."t" t limit $1 offset $2', [100, 0]],
    [
      { filters: [{ column: 'na"me', op: 'eq', value: 'x' }], sort: { column: 'id', ascending: false }, limit: 5 },
      'select to_jsonb(t) as row, count(*) over () as total from "public"."t" t where "na""me" = $1 order by "id" desc nulls last limit $2 offset $3',
      ['x', 5, 0],
    ],
    [
      {
        filters: [
          { column: 'body', op: 'ilike', value: '%a%' },
          { column: 'id', op: 'is_null' },
        ],
      },
      'select to_jsonb(t) as row, count(*) over () as total from "public"."t" t where "body"::text ilike $1 and "id" is null limit $2 offset $3',
      ['%a%', 100, 0],
    ],
  ])('%j', (query, text, values) => {
    expect(planBrowse('public', 't', columns, browseQuery.parse(query))).toEqual({ text, values });
  });
  test('a column the table does not have is refused', () => {
    expect(() => planBrowse('public', 't', columns, browseQuery.parse({ sort: { column: 'id; drop' } }))).toThrow(
      /does not exist/,
    );
  });
  test('a comparison without a value is refused', () => {
    expect(() =>
      planBrowse('public', 't', columns, browseQuery.parse({ filters: [{ column: 'id', op: 'gt' }] })),
    ).toThrow(/needs a value/);
  });
});

describe('row writes', () => {
  test('insert: values as text parameters, objects as JSON', () => {
    expect(planInsert('public', 't', columns, { id: 1, body: { a: [1] } })).toEqual({
      text: 'insert into "public"."t" ("id", "body") values ($1, $2) returning to_jsonb("t".*) as row',
      values: ['1', '{"a":[1]}'],
    });
  });
  test('update and delete need every primary key column', () => {
    expect(planUpdate('public', 't', columns, ['id'], { id: 2 }, { body: null })).toEqual({
      text: 'update "public"."t" set "body" = $1 where "id" = $2 returning to_jsonb("t".*) as row',
      values: [null, '2'],
    });
    expect(() => planDelete('public', 't', ['id'], {})).toThrow(/needs a value for "id"/);
    expect(() => planDelete('public', 't', [], { id: 1 })).toThrow(/no primary key/);
  });
});

describe('session cookies', () => {
  const secret = { passwordHash: 'scrypt$x', sessionKey: 'k'.repeat(43) };
  test('valid until it expires, refused with another key or a changed expiry', () => {
    const { value } = issueSession(secret, 1, 1_000);
    expect(sessionValid(secret, value, 2_000)).toBe(true);
    expect(sessionValid(secret, value, 1_000 + 3_600_000)).toBe(false);
    expect(sessionValid({ ...secret, sessionKey: 'j'.repeat(43) }, value, 2_000)).toBe(false);
    const [, mac] = value.split('.');
    expect(sessionValid(secret, `99999999999999.${mac}`, 2_000)).toBe(false);
    expect(sessionValid(secret, 'garbage', 2_000)).toBe(false);
  });
});

test.each([
  [[], 0.5, null],
  [
    [
      { le: 0.01, count: 5 },
      { le: 0.1, count: 10 },
      { le: Infinity, count: 10 },
    ],
    0.5,
    0.01,
  ],
  [
    [
      { le: 0.01, count: 5 },
      { le: 0.1, count: 10 },
      { le: Infinity, count: 10 },
    ],
    0.99,
    0.1,
  ],
  [
    [
      { le: 0.01, count: 0 },
      { le: 0.1, count: 1 },
      { le: Infinity, count: 2 },
    ],
    0.99,
    0.1,
  ],
])('percentile of %j at %d', (buckets, q, expected) => expect(percentile(buckets, q)).toBe(expected));
