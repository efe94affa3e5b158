import { describe, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { parseReadQuery } from '../../src/rest/parse.js';
import { planRead } from '../../src/rest/plan-read.js';
import { isToOne, resolveRelationship } from '../../src/rest/relationships.js';
import type { Column, ForeignKey, Relation, SchemaCache } from '../../src/rest/schema.js';

// People; each has at most one passport (its key is the person's id) and one locker (a unique
// column), and any number of visits.
const col = (name: string): [string, Column] => [
  name,
  { name, type: 'integer', nullable: true, hasDefault: false, generated: false },
];
const table = (name: string, columns: string[]): Relation => ({
  schema: 'public',
  name,
  kind: 'table',
  columns: new Map(columns.map(col)),
  primaryKey: [columns[0] ?? 'id'],
  insertable: true,
});
const RELATIONS = [
  table('people', ['id']),
  table('passports', ['person_id', 'number']),
  table('lockers', ['id', 'person_id']),
  table('visits', ['id', 'person_id']),
];
const fk = (name: string, from: string, oneToOne: boolean): ForeignKey => ({
  name,
  schema: 'public',
  table: from,
  columns: ['person_id'],
  refSchema: 'public',
  refTable: 'people',
  refColumns: ['id'],
  oneToOne,
});
const FKS = [
  fk('passports_person_id_fkey', 'passports', true),
  fk('lockers_person_id_fkey', 'lockers', true),
  fk('visits_person_id_fkey', 'visits', false),
];
const cache: SchemaCache = {
  schemas: ['public'],
  relation: (_schema, name) => RELATIONS.find((r) => r.name === name),
  foreignKeys: (_schema, name) => FKS.filter((f) => f.table === name || f.refTable === name),
  functions: () => [],
};
const people = RELATIONS[0] as Relation;
const relation = (name: string) => RELATIONS.find((r) => r.name === name) as Relation;
const embed = (name: string) => ({ kind: 'embed' as const, relation: name, spread: false, select: [] });

describe('one-to-one relationships', () => {
  test.each<[string, Relation, string, string, boolean]>([
    ['a key that is the primary key, from the parent', people, 'passports', 'one-to-many', true],
    ['a key that is a unique column, from the parent', people, 'lockers', 'one-to-many', true],
    ['a key that is not unique, from the parent', people, 'visits', 'one-to-many', false],
    ['a one-to-one key, from the child', relation('passports'), 'people', 'many-to-one', true],
    ['a plain key, from the child', relation('visits'), 'people', 'many-to-one', true],
  ])('%s', (_name, parent, target, kind, toOne) => {
    const found = resolveRelationship(cache, parent, embed(target));
    expect(found.kind).toBe(kind);
    expect(isToOne(found)).toBe(toOne);
  });

  test('an embed either way of a one-to-one is one object; a to-many one is an array', () => {
    const plan = planRead(
      cache,
      people,
      parseReadQuery(new URLSearchParams('select=id,passports(number),visits(id)')),
      {
        count: undefined,
        maxRows: 1000,
      },
    );
    expect(plan.text).toContain(
      `(select row_to_json(_e) from (select t1."number" as "number" from "public"."passports" as t1`,
    );
    expect(plan.text).toContain(
      `coalesce((select json_agg(_e) from (select t2."id" as "id" from "public"."visits" as t2`,
    );
  });

  test('several candidates name one-to-one in PGRST201 details, as PostgREST', () => {
    const twice: SchemaCache = {
      ...cache,
      foreignKeys: (schema, name) => [
        ...cache.foreignKeys(schema, name),
        ...(name === 'people' || name === 'lockers' ? [{ ...fk('lockers_owner_fkey', 'lockers', false) }] : []),
      ],
    };
    try {
      resolveRelationship(twice, people, embed('lockers'));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ApiError);
      // A JSON array, ordered as PostgREST orders relationships: one-to-many before one-to-one.
      const details = (err as ApiError).extra.fields?.details as { cardinality: string }[];
      expect(details.map((d) => d.cardinality)).toEqual(['one-to-many', 'one-to-one']);
    }
  });
});
