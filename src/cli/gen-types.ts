/**
 * `trellis gen types typescript`: the `Database` type the Supabase CLI generates (`supabase gen
 * types typescript`, which runs postgres-meta's TypeScript template), from the catalog. Its rules
 * are postgres-meta's, so typed supabase-js code moves over unchanged: columns sorted by name,
 * `| null` for nullable columns, Insert fields optional when nullable, identity or defaulted,
 * Update fields all optional, enums as unions of their labels, functions only when PostgREST can
 * call them, with `SetofOptions` for those returning rows. Pure.
 */
import type { Catalog, CatalogFunction, CatalogRelation } from '../db/index.js';
import { HELPER_TYPES } from './gen-types-helpers.js';
import { describeArgs, functionTypes } from './gen-types-functions.js';
import { byName, isView, nullableType, typeMapper } from './gen-types-map.js';
import { literal, object, printMember, printStringArray, propertyKey, union, type TsMember } from './ts-print.js';

export interface TypescriptOptions {
  /** Emitted as `__InternalSupabase.PostgrestVersion`, which supabase-js reads to type the client. */
  readonly postgrestVersion: string;
}

export function renderTypescript(catalog: Catalog, options: TypescriptOptions): string {
  const schemas = [...catalog.schemas].map((s) => s.name).sort((a, b) => a.localeCompare(b));
  const map = typeMapper(catalog, new Set(schemas));
  const { tsType, nullable, sortedColumns } = map;
  const { callable, returnObject, signature } = functionTypes(catalog, map);

  const relationships = (relation: CatalogRelation): string => {
    const fks = catalog.foreignKeys
      .filter((f) => f.schema === relation.schema && f.table === relation.name && f.refSchema === relation.schema)
      .sort(
        (a, b) =>
          a.name.localeCompare(b.name) ||
          a.refTable.localeCompare(b.refTable) ||
          JSON.stringify(a.refColumns).localeCompare(JSON.stringify(b.refColumns)),
      );
    if (fks.length === 0) return '[]';
    const pad = ' '.repeat(8);
    const items = fks.map(
      (f) =>
        `${pad}  {\n` +
        [
          `foreignKeyName: ${literal(f.name)}`,
          `columns: [${f.columns.map(literal).join(', ')}]`,
          `isOneToOne: ${String(f.oneToOne)}`,
          `referencedRelation: ${literal(f.refTable)}`,
          `referencedColumns: [${f.refColumns.map(literal).join(', ')}]`,
        ]
          .map((line) => `${pad}    ${line}`)
          .join('\n') +
        `\n${pad}  },`,
    );
    return `[\n${items.join('\n')}\n${pad}]`;
  };

  const schemaType = (schema: string): string => {
    const own = catalog.relations.filter((r) => r.schema === schema).sort(byName);
    const fns = callable.filter((f) => f.schema === schema);
    const computed = (relation: CatalogRelation): TsMember[] =>
      fns
        .filter(
          (f) =>
            f.args.length === 1 &&
            f.args[0]?.name === '' &&
            f.args[0].type.name === relation.name &&
            f.args[0].type.schema === relation.schema,
        )
        .sort(byName)
        .map((f) => ({ key: f.name, type: nullableType(returnObject(f)) }));
    const row = (relation: CatalogRelation) =>
      object([
        ...sortedColumns(relation).map((c) => ({ key: c.name, type: nullable(tsType(c.type), c.nullable) })),
        ...computed(relation),
      ]);
    const tables = own.filter((r) => !isView(r));
    const views = own.filter(isView);
    const tableMembers: TsMember[] = tables.map((t) => ({
      key: t.name,
      type: object([
        { key: 'Row', type: row(t) },
        {
          key: 'Insert',
          type: object(
            sortedColumns(t).map((c) =>
              c.identity === 'always'
                ? { key: c.name, optional: true, type: 'never' }
                : {
                    key: c.name,
                    optional: c.nullable || c.identity !== null || c.default !== null,
                    type: nullable(tsType(c.type), c.nullable),
                  },
            ),
          ),
        },
        {
          key: 'Update',
          type: object(
            sortedColumns(t).map((c) => ({
              key: c.name,
              optional: true,
              type: c.identity === 'always' ? 'never' : nullable(tsType(c.type), c.nullable),
            })),
          ),
        },
        { key: 'Relationships', type: relationships(t) },
      ]),
    }));
    const viewMembers: TsMember[] = views.map((v) => {
      const writable = v.kind === 'view' && v.updatable && v.deletable;
      const write = object(
        sortedColumns(v).map((c) =>
          c.updatable
            ? { key: c.name, optional: true, type: nullable(tsType(c.type), true) }
            : { key: c.name, optional: true, type: 'never' },
        ),
      );
      return {
        key: v.name,
        type: object([
          { key: 'Row', type: row(v) },
          ...(writable
            ? [
                { key: 'Insert', type: write },
                { key: 'Update', type: write },
              ]
            : []),
          { key: 'Relationships', type: relationships(v) },
        ]),
      };
    });
    const grouped = new Map<string, CatalogFunction[]>();
    for (const fn of [...fns].sort(byName)) grouped.set(fn.name, [...(grouped.get(fn.name) ?? []), fn]);
    const functionMembers: TsMember[] = [...grouped].map(([name, overloads]) => {
      const sorted = [...overloads].sort((a, b) => describeArgs(a).localeCompare(describeArgs(b)));
      return { key: name, type: union(sorted.map((fn) => signature(fn, sorted))) };
    });
    const ownTypes = catalog.types.filter((t) => t.schema === schema).sort(byName);
    const enumMembers: TsMember[] = ownTypes.flatMap((t) =>
      t.enumLabels ? [{ key: t.name, type: union(t.enumLabels.map(literal)) }] : [],
    );
    const compositeMembers: TsMember[] = ownTypes.flatMap((t) =>
      t.attributes
        ? [
            {
              key: t.name,
              type: object(t.attributes.map((a) => ({ key: a.name, type: nullable(tsType(a.type), true) }))),
            },
          ]
        : [],
    );
    const section = (name: string, members: TsMember[]): TsMember => ({
      key: name,
      type: members.length === 0 ? object([{ key: '[_ in never]', raw: true, type: 'never' }]) : object(members),
    });
    return printMember(
      {
        key: schema,
        type: object([
          section('Tables', tableMembers),
          section('Views', viewMembers),
          section('Functions', functionMembers),
          section('Enums', enumMembers),
          section('CompositeTypes', compositeMembers),
        ]),
      },
      2,
    );
  };

  const constants = schemas
    .map((schema) => {
      const enums = catalog.types
        .filter((t) => t.schema === schema && t.enumLabels)
        .sort(byName)
        .map((t) => {
          const prefix = `${propertyKey(t.name)}: `;
          return `      ${prefix}${printStringArray(t.enumLabels ?? [], 6, prefix)},`;
        });
      const body = enums.length === 0 ? '{}' : `{\n${enums.join('\n')}\n    }`;
      return `  ${propertyKey(schema)}: {\n    Enums: ${body},\n  },`;
    })
    .join('\n');

  return [
    'export type Json =',
    '  | string',
    '  | number',
    '  | boolean',
    '  | null',
    '  | { [key: string]: Json | undefined }',
    '  | Json[]',
    '',
    'export type Database = {',
    '  // Allows to automatically instantiate createClient with right options',
    "  // instead of createClient<Database, { PostgrestVersion: 'XX' }>(URL, KEY)",
    '  __InternalSupabase: {',
    `    PostgrestVersion: ${literal(options.postgrestVersion)}`,
    '  }',
    ...schemas.map(schemaType),
    '}',
    '',
    HELPER_TYPES.trimEnd(),
    '',
    'export const Constants = {',
    constants,
    '} as const',
    '',
  ].join('\n');
}
