/** The pure half of a move: flag parsing, load order, what the target lacks. */
import { describe, expect, test } from 'vitest';
import { compareDigests } from '../../src/db/index.js';
import { missingOnTarget, orderTables, parseS3Target, parseServerUrl } from '../../src/move/plan.js';
import { describeDigests } from '../../src/move/report.js';

const t = (name: string) => {
  const [schema = '', table = ''] = name.split('.');
  return { schema, table };
};
const edge = (from: string, to: string) => ({ from: t(from), to: t(to) });
const labels = (list: { schema: string; table: string }[]) => list.map((x) => `${x.schema}.${x.table}`);

describe('orderTables', () => {
  test.each([
    ['no keys keeps the listing order', ['a.x', 'a.y'], [], ['a.x', 'a.y']],
    [
      'a child after its parent',
      ['public.child', 'public.parent'],
      [edge('public.child', 'public.parent')],
      ['public.parent', 'public.child'],
    ],
    ['a self-reference is no dependency', ['public.tree'], [edge('public.tree', 'public.tree')], ['public.tree']],
    [
      'a chain across schemas',
      ['public.c', 'public.b', 'auth.users'],
      [edge('public.c', 'public.b'), edge('public.b', 'auth.users')],
      ['auth.users', 'public.b', 'public.c'],
    ],
    ['a key to a table not copied is ignored', ['public.a'], [edge('public.a', 'trellis.request_roles')], ['public.a']],
  ])('%s', (_name, tables, edges, order) => {
    expect(orderTables(tables.map(t), edges)).toEqual({ order: order.map(t) });
  });

  test('a cycle names only the tables in it or behind it', () => {
    const result = orderTables(['public.free', 'public.a', 'public.b', 'public.c'].map(t), [
      edge('public.a', 'public.b'),
      edge('public.b', 'public.a'),
      edge('public.c', 'public.a'),
    ]);
    expect('cycle' in result && labels(result.cycle)).toEqual(['public.a', 'public.b', 'public.c']);
  });
});

describe('missingOnTarget', () => {
  const c = (name: string, column: string) => ({ ...t(name), column });
  test('whole tables and single columns', () => {
    expect(
      missingOnTarget(
        [c('public.a', 'id'), c('public.a', 'extra'), c('public.made_in_psql', 'id'), c('public.made_in_psql', 'x')],
        [c('public.a', 'id'), c('public.target_only', 'id')],
      ),
    ).toEqual({ tables: ['public.made_in_psql'], columns: ['public.a.extra'] });
  });
  test('nothing missing', () => {
    expect(missingOnTarget([c('public.a', 'id')], [c('public.a', 'id'), c('public.a', 'new')])).toEqual({
      tables: [],
      columns: [],
    });
  });
});

describe('flags', () => {
  test.each([
    ['postgres://u@h:5432/db', true],
    ['postgresql://u:p@h/db?sslmode=require', true],
    ['postgres://u@h', false],
    ['postgres://u@h/', false],
    ['http://h/db', false],
    ['h:5432/db', false],
    ['', false],
  ])('server URL %s', (url, ok) => {
    if (ok) expect(parseServerUrl(url, '--to')).toBe(url);
    else expect(() => parseServerUrl(url, '--to')).toThrow();
  });

  test.each([
    ['s3://my-bucket', 'my-bucket'],
    ['s3://my.bucket/', 'my.bucket'],
  ])('S3 target %s', (text, bucket) => expect(parseS3Target(text)).toEqual({ bucket }));

  test.each([
    ['s3://', /must be s3:\/\/<bucket>/],
    ['s3://b/prefix', /root of its bucket/],
    ['s3://UPPER', /not a valid S3 bucket name/],
    ['s3://ab', /not a valid S3 bucket name/],
    [`s3://${'a'.repeat(64)}`, /not a valid S3 bucket name/],
    ['gs://bucket', /must be s3:\/\/<bucket>/],
    ['s3://bucket?x=1', /must be s3:\/\/<bucket>/],
  ])('S3 target %s is refused', (text, message) => expect(() => parseS3Target(text)).toThrow(message));
});

describe('describeDigests', () => {
  const d = (table: string, rows: number, checksum: string) => ({ schema: 'public', table, rows, checksum });
  test('a line per table, differences marked, tables only on the target listed', () => {
    const text = describeDigests(
      [d('a', 2, '10'), d('b', 1, '7')],
      [d('a', 2, '10'), d('b', 1, '8'), d('c', 3, '9')],
      compareDigests([d('a', 2, '10'), d('b', 1, '7')], [d('a', 2, '10'), d('b', 1, '8'), d('c', 3, '9')]),
    );
    expect(text.split('\n')).toEqual([
      'table     source rows  target rows  source checksum  target checksum',
      'public.a            2            2               10               10  ok',
      'public.b            1            1                7                8  DIFFERS',
      'public.c            -            3                -                9  DIFFERS',
    ]);
  });
});
