/** The TypeScript renderer on hand-made catalogs: the cases a real schema rarely shows all at once. */
import { describe, expect, test } from 'vitest';
import { renderTypescript } from '../../src/cli/gen-types.js';
import type { Catalog, CatalogColumn, CatalogFunction, CatalogRelation, CatalogTypeRef } from '../../src/db/index.js';

const type = (name: string, id = 0, schema = 'pg_catalog'): CatalogTypeRef => ({ id, name, schema, format: name });
const column = (name: string, t: CatalogTypeRef, nullable = false): CatalogColumn => ({
  name,
  type: t,
  nullable,
  default: null,
  identity: null,
  generated: false,
  updatable: true,
  comment: null,
  maxLength: null,
});
const table = (name: string, columns: CatalogColumn[]): CatalogRelation => ({
  schema: 'public',
  name,
  kind: 'table',
  comment: null,
  columns,
  primaryKey: [],
  insertable: true,
  updatable: true,
  deletable: true,
  visible: true,
  partition: false,
});
const fn = (
  name: string,
  args: CatalogFunction['args'],
  returns: CatalogTypeRef,
  extra: Partial<CatalogFunction> = {},
) =>
  ({
    schema: 'public',
    name,
    comment: null,
    args,
    returnType: returns,
    returnRelation: null,
    returnsSet: false,
    rows: null,
    volatility: 'volatile',
    executable: true,
    ...extra,
  }) satisfies CatalogFunction;
const catalog = (parts: Partial<Catalog>): Catalog => ({
  schemas: [{ name: 'public', comment: null }],
  relations: [],
  foreignKeys: [],
  functions: [],
  types: [],
  ...parts,
});
const render = (parts: Partial<Catalog>) => renderTypescript(catalog(parts), { postgrestVersion: '13.0' });

describe('renderTypescript', () => {
  test('an empty schema has mapped-type placeholders, not a property named "[_ in never]"', () => {
    const text = render({});
    expect(text).toContain('    Tables: {\n      [_ in never]: never\n    }');
    expect(text).not.toContain('"[_ in never]"');
    expect(text).toContain('  public: {\n    Enums: {},\n  },');
  });

  test('overloads PostgREST cannot tell apart answer an error type, listed by argument type', () => {
    const text = render({
      functions: [
        fn('pick', [{ name: 'x', mode: 'in', type: type('text', 25), hasDefault: false }], type('text', 25)),
        fn('pick', [{ name: 'x', mode: 'in', type: type('int4', 23), hasDefault: false }], type('int4', 23)),
      ],
    });
    expect(text).toContain(
      '      pick:\n        | {\n            Args: { x: number }\n            Returns: {\n              error: true\n            } & "Could not choose the best candidate function between: public.pick(x => int4), public.pick(x => text).',
    );
  });

  test('a function of two unnamed arguments is left out; one unnamed json argument is kept', () => {
    const text = render({
      functions: [
        fn(
          'pair',
          [
            { name: '', mode: 'in', type: type('int4'), hasDefault: false },
            { name: '', mode: 'in', type: type('int4'), hasDefault: false },
          ],
          type('int4'),
        ),
        fn('echo', [{ name: '', mode: 'in', type: type('json'), hasDefault: false }], type('json')),
      ],
    });
    expect(text).not.toContain('pair');
    expect(text).toContain('      echo: { Args: { "": Json }; Returns: Json }');
  });

  test('names that are no identifiers are quoted; arrays of unions keep their parentheses', () => {
    const text = render({
      relations: [table('odd table', [column('a-b', type('_mood', 2, 'other'), true), column('n', type('_int8'))])],
      types: [{ schema: 'other', name: 'mood', format: 'other.mood', enumLabels: ['x', 'y'], attributes: null }],
    });
    expect(text).toContain(
      '      "odd table": {\n        Row: {\n          "a-b": ("x" | "y")[] | null\n          n: number[]\n        }',
    );
  });
});
