import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { parseReadQuery } from '../../src/rest/parse.js';
import { parseSelect } from '../../src/rest/parse-select.js';
import { planRead } from '../../src/rest/plan-read.js';
import {
  aggregateOutput,
  checkAggregatesAllowed,
  finishLevel,
  isBareCount,
  spreadManyJoin,
  spreadOneOutputs,
  type Output,
} from '../../src/rest/plan-aggregate.js';
import type { Column, ForeignKey, Relation, SchemaCache } from '../../src/rest/schema.js';

const col = (name: string): [string, Column] => [
  name,
  { name, type: 'integer', nullable: true, hasDefault: false, generated: false },
];
const orders: Relation = {
  schema: 'public',
  name: 'orders',
  kind: 'table',
  columns: new Map([col('id'), col('amount')]),
  primaryKey: ['id'],
  insertable: true,
};

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    if (err instanceof ApiError) return err.code;
    throw err;
  }
  return undefined;
};

let alias = 0;
const nextAlias = () => `l${++alias}`;

describe('aggregates allowed or not', () => {
  test.each([
    ['count()', 'PGRST123'],
    ['total:amount.sum()', 'PGRST123'],
    ['id,items(amount.max())', 'PGRST123'],
    ['...items(count())', 'PGRST123'],
    ['id,amount', undefined],
    // PostgreSQL reads `items_1.count` as count(items_1): PostgREST never sees an aggregate.
    ['items(count)', undefined],
  ])('off: %s answers %s', (select, code) => {
    expect(codeOf(() => checkAggregatesAllowed(parseSelect(select), false))).toBe(code);
  });

  test('on: every aggregate passes', () => {
    expect(codeOf(() => checkAggregatesAllowed(parseSelect('count(),amount.avg(),x(id.min())'), true))).toBe(undefined);
  });

  test('a bare count is the row count only where no column is named count', () => {
    const [item] = parseSelect('count');
    expect(item && isBareCount(orders, item)).toBe(true);
    const withCount: Relation = { ...orders, columns: new Map([col('count')]) };
    expect(item && isBareCount(withCount, item)).toBe(false);
  });
});

describe('finishLevel', () => {
  const star: Output = { kind: 'star', alias: 't0', relation: orders };

  test('without aggregates, nothing is grouped and * stays *', () => {
    const out = finishLevel([star, { kind: 'value', expr: 't0."id"', key: 'n' }], 'rows', nextAlias);
    expect(out.columns).toEqual(['t0.*', 't0."id" as "n"']);
    expect(out.groupBy).toBe('');
  });

  test('the other columns are the groups, by position; * is expanded to be grouped', () => {
    const out = finishLevel(
      [star, aggregateOutput('sum', 't0."amount"', 'total', 'int'), aggregateOutput('count', '*')],
      'rows',
      nextAlias,
    );
    expect(out.columns).toEqual([
      't0."id" as "id"',
      't0."amount" as "amount"',
      '(sum(t0."amount"))::int as "total"',
      'count(*) as "count"',
    ]);
    expect(out.groupBy).toBe(' group by 1, 2');
  });

  test('an embed beside an aggregate is computed in a lateral join and grouped as jsonb', () => {
    const out = finishLevel(
      [{ kind: 'value', expr: '(select 1)', key: 'items', embed: true }, aggregateOutput('count', '*')],
      'rows',
      () => 'l9',
    );
    expect(out.joins).toEqual(['left join lateral (select ((select 1))::jsonb as v) as l9 on true']);
    expect(out.columns[0]).toBe('l9.v as "items"');
    expect(out.groupBy).toBe(' group by 1');
  });

  test('a to-one spread hands its aggregates to its parent, raw', () => {
    const out = finishLevel(
      [{ kind: 'value', expr: 't1."id"', key: 'id' }, aggregateOutput('sum', 't1."amount"', 's', 'text')],
      'spread-one',
      nextAlias,
    );
    expect(out.columns).toEqual(['t1."id" as "id"', 't1."amount" as "s"']);
    expect(out.groupBy).toBe('');
    expect(out.reported).toEqual([{ key: 'id' }, { key: 's', hoisted: { fn: 'sum', cast: 'text' } }]);
    expect(spreadOneOutputs('s1', out.reported)).toEqual([
      { kind: 'value', expr: 's1."id"', key: 'id' },
      { kind: 'aggregate', fn: 'sum', arg: 's1."s"', key: 's', cast: 'text' },
    ]);
  });

  test('an aggregate in a to-many spread is not implemented, as in PostgREST', () => {
    expect(codeOf(() => finishLevel([aggregateOutput('count', '*')], 'spread-many', nextAlias))).toBe('PGRST127');
  });

  test('a to-many spread gives each column as an array', () => {
    const many = spreadManyJoin('s2', 'select 1', [{ key: 'id' }]);
    expect(many.join).toBe(
      `left join lateral (select coalesce(json_agg(_s."id"), '[]'::json) as "id" from (select 1) as _s) as s2 on true`,
    );
    expect(many.outputs).toEqual([{ kind: 'value', expr: 's2."id"', key: 'id', json: true }]);
  });

  test('a cast of an aggregate must be one type name', () => {
    expect(codeOf(() => aggregateOutput('sum', 'x', undefined, 'int) from t; --'))).toBe('PGRST100');
  });
});

describe('planRead with aggregates and spreads', () => {
  const table = (name: string, columns: string[]): Relation => ({
    ...orders,
    name,
    columns: new Map(columns.map(col)),
    primaryKey: [columns[0] ?? 'id'],
  });
  const RELATIONS = [table('customers', ['id', 'tier']), table('orders', ['id', 'customer_id', 'amount'])];
  const FK: ForeignKey = {
    name: 'orders_customer_id_fkey',
    schema: 'public',
    table: 'orders',
    columns: ['customer_id'],
    refSchema: 'public',
    refTable: 'customers',
    refColumns: ['id'],
    oneToOne: false,
  };
  const cache: SchemaCache = {
    schemas: ['public'],
    relation: (_schema, name) => RELATIONS.find((r) => r.name === name),
    foreignKeys: () => [FK],
    functions: () => [],
  };
  const plan = (root: string, qs: string) =>
    planRead(cache, RELATIONS.find((r) => r.name === root) as Relation, parseReadQuery(new URLSearchParams(qs)), {
      count: undefined,
      maxRows: 1000,
    }).text;

  test('the root groups by its other columns', () => {
    expect(plan('orders', 'select=customer_id,amount.sum()')).toContain(
      'select t0."customer_id" as "customer_id", sum(t0."amount") as "sum" from "public"."orders" as t0 group by 1',
    );
  });

  test('a to-one spread selects the raw value and its parent aggregates it', () => {
    const text = plan('orders', 'select=amount,...customers(tier,n:id.count())');
    expect(text).toContain('select t1."tier" as "tier", t1."id" as "n" from "public"."customers" as t1');
    expect(text).toContain('s2."tier" as "tier", count(s2."n") as "n"');
    expect(text).toContain('group by 1, 2');
  });

  test('a to-many spread aggregates each column into an array', () => {
    expect(plan('customers', 'select=id,...orders(amount)')).toContain(
      `left join lateral (select coalesce(json_agg(_s."amount"), '[]'::json) as "amount" from (select t1."amount" as "amount" from "public"."orders" as t1`,
    );
  });

  test('a missing column of an embedded table is named name_depth, as PostgREST', () => {
    expect(() => plan('customers', 'select=id,orders(sum)')).toThrow('column orders_1.sum does not exist');
    expect(() => plan('customers', 'select=nope.sum()')).toThrow('column customers.nope does not exist');
  });
});
