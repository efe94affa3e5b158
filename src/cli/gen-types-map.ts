/**
 * How generated types name PostgreSQL's types, as postgres-meta names them: `int8` and `numeric`
 * are `number`, json is `Json`, dates and times `string`, an array `T[]`, an enum or composite of a
 * described schema a reference into `Database`, one of another schema its labels or `unknown`. Pure.
 */
import type { Catalog, CatalogRelation, CatalogTypeRef } from '../db/index.js';
import { literal, union, type TsType } from './ts-print.js';

const NUMBERS = new Set(['int2', 'int4', 'int8', 'float4', 'float8', 'numeric']);
const STRINGS = new Set([
  'bytea',
  'bpchar',
  'varchar',
  'date',
  'text',
  'citext',
  'time',
  'timetz',
  'timestamp',
  'timestamptz',
  'uuid',
  'vector',
  'interval',
]);

export const byName = <T extends { readonly name: string }>(a: T, b: T): number => a.name.localeCompare(b.name);
export const key = (schema: string, name: string): string => `${schema}.${name}`;

export interface TypeMapper {
  readonly relations: ReadonlyMap<string, CatalogRelation>;
  /** A table's, a view's or a composite type's row type. */
  readonly isRowType: (ref: CatalogTypeRef) => boolean;
  readonly tsType: (ref: CatalogTypeRef) => string;
  readonly nullable: (type: string, isNullable: boolean) => string;
  readonly sortedColumns: (relation: CatalogRelation) => CatalogRelation['columns'][number][];
}

export function typeMapper(catalog: Catalog, included: ReadonlySet<string>): TypeMapper {
  const relations = new Map(catalog.relations.map((r) => [key(r.schema, r.name), r]));
  const types = new Map(catalog.types.map((t) => [key(t.schema, t.name), t]));
  const isRowType = (ref: CatalogTypeRef): boolean =>
    relations.has(key(ref.schema, ref.name)) || Boolean(types.get(key(ref.schema, ref.name))?.attributes);
  const tsType = (ref: CatalogTypeRef): string => {
    const name = ref.name;
    if (name === 'bool') return 'boolean';
    if (NUMBERS.has(name)) return 'number';
    if (STRINGS.has(name)) return 'string';
    if (name === 'json' || name === 'jsonb') return 'Json';
    if (name === 'void') return 'undefined';
    if (name === 'record') return 'Record<string, unknown>';
    if (name.startsWith('_')) {
      const element = tsType({ ...ref, name: name.slice(1) });
      return element.includes(' ') ? `(${element})[]` : `${element}[]`;
    }
    const type = types.get(key(ref.schema, name));
    if (type?.enumLabels) {
      return included.has(type.schema)
        ? `Database[${literal(type.schema)}]["Enums"][${literal(type.name)}]`
        : type.enumLabels.map(literal).join(' | ');
    }
    if (type?.attributes)
      return included.has(type.schema)
        ? `Database[${literal(type.schema)}]["CompositeTypes"][${literal(type.name)}]`
        : 'unknown';
    const relation = relations.get(key(ref.schema, name));
    if (relation)
      return `Database[${literal(relation.schema)}][${isView(relation) ? '"Views"' : '"Tables"'}][${literal(relation.name)}]["Row"]`;
    return 'unknown';
  };
  const nullable = (type: string, isNullable: boolean): string =>
    isNullable && type !== 'unknown' && type !== 'any' ? `${type} | null` : type;
  const sortedColumns = (relation: CatalogRelation) => [...relation.columns].sort(byName);
  return {
    relations,
    isRowType,
    tsType,
    nullable,
    sortedColumns,
  };
}

export function isView(relation: CatalogRelation): boolean {
  return relation.kind === 'view' || relation.kind === 'materialized_view';
}

export function nullableType(type: TsType): TsType {
  if (typeof type !== 'string') return union([type, 'null']);
  return type === 'unknown' || type === 'any' ? type : `${type} | null`;
}
