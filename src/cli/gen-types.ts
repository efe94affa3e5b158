/**
 * `trellis gen types typescript`: the `Database` type the Supabase CLI generates (`supabase gen
 * types typescript`, which runs postgres-meta's TypeScript template), from the catalog. Its rules
 * are postgres-meta's, so typed supabase-js code moves over unchanged: columns sorted by name,
 * `| null` for nullable columns, Insert fields optional when nullable, identity or defaulted,
 * Update fields all optional, enums as unions of their labels, functions only when PostgREST can
 * call them, with `SetofOptions` for those returning rows. Pure.
 */
import type { Catalog, CatalogFunction, CatalogFunctionArg, CatalogRelation, CatalogTypeRef } from '../db/index.js';
import { HELPER_TYPES } from './gen-types-helpers.js';
import {
  intersection,
  literal,
  object,
  printMember,
  printStringArray,
  propertyKey,
  union,
  type TsMember,
  type TsType,
} from './ts-print.js';

export interface TypescriptOptions {
  /** Emitted as `__InternalSupabase.PostgrestVersion`, which supabase-js reads to type the client. */
  readonly postgrestVersion: string;
}

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
/** The types a single unnamed argument may have and still be called (the body is passed whole). */
const WHOLE_BODY = new Set(['json', 'jsonb', 'text']);
const INPUT_MODES = new Set<CatalogFunctionArg['mode']>(['in', 'inout', 'variadic']);

const byName = <T extends { readonly name: string }>(a: T, b: T): number => a.name.localeCompare(b.name);
const key = (schema: string, name: string): string => `${schema}.${name}`;

export function renderTypescript(catalog: Catalog, options: TypescriptOptions): string {
  const schemas = [...catalog.schemas].map((s) => s.name).sort((a, b) => a.localeCompare(b));
  const included = new Set(schemas);
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

  // Functions PostgREST can call: unnamed arguments only where a request can still reach them.
  const callable = catalog.functions.filter((fn) => {
    const inputs = fn.args.filter((a) => INPUT_MODES.has(a.mode));
    const wholeBody = (a: CatalogFunctionArg) => a.type.schema === 'pg_catalog' && WHOLE_BODY.has(a.type.name);
    return (
      inputs.every((a) => a.name !== '') ||
      inputs.every((a) => a.name !== '' || (a.hasDefault && wholeBody(a))) ||
      (inputs.length === 1 && inputs[0] !== undefined && (wholeBody(inputs[0]) || isRowType(inputs[0].type)))
    );
  });
  const inputsOf = (fn: CatalogFunction) => [...fn.args].sort(byName).filter((a) => INPUT_MODES.has(a.mode));

  const returnObject = (fn: CatalogFunction): TsType => {
    const table = [...fn.args].sort(byName).filter((a) => a.mode === 'table');
    if (table.length > 0) return object(table.map((a) => ({ key: a.name, type: tsType(a.type) })));
    const rel = fn.returnRelation;
    const relation = rel && rel.schema === fn.schema ? relations.get(key(rel.schema, rel.name)) : undefined;
    if (relation)
      return object(sortedColumns(relation).map((c) => ({ key: c.name, type: nullable(tsType(c.type), c.nullable) })));
    return tsType(fn.returnType);
  };
  const withArray = (type: TsType): TsType =>
    typeof type === 'string'
      ? `${type.includes(' ') ? `(${type})` : type}[]`
      : type.kind === 'object'
        ? { ...type, array: true }
        : type;

  const signature = (fn: CatalogFunction, overloads: readonly CatalogFunction[]): TsType => {
    const inputs = inputsOf(fn);
    const args: TsType =
      inputs.length === 0
        ? 'never'
        : object(
            inputs.map((a) => ({ key: a.name, optional: a.hasDefault, type: tsType(a.type) })),
            { inline: true },
          );
    const conflict = overloadConflict(fn, overloads);
    const returnName = fn.returnRelation?.name ?? null;
    const tableRowOnly = inputs.length === 1 && inputs[0]?.name === '' && isRowType(inputs[0].type) && !returnName;
    const members: TsMember[] = [{ key: 'Args', type: args }];
    if (conflict || tableRowOnly) {
      const why =
        conflict ??
        `the function ${fn.schema}.${fn.name} with parameter or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache`;
      members.push({
        key: 'Returns',
        type: intersection([object([{ key: 'error', type: 'true' }], { inline: true }), literal(why)]),
      });
      return object(members, { inline: true });
    }
    const manyRows = fn.rows !== null && fn.rows > 1;
    const returns = returnObject(fn);
    members.push({
      key: 'Returns',
      type: fn.returnsSet && !(!manyRows && returnName !== null) ? withArray(returns) : returns,
    });
    const setof = setofOptions(fn, returnName, manyRows, isRowType);
    if (setof) members.push({ key: 'SetofOptions', type: setof });
    return object(members, { inline: true });
  };

  const overloadConflict = (fn: CatalogFunction, overloads: readonly CatalogFunction[]): string | undefined => {
    if (overloads.length <= 1) return undefined;
    const inputs = inputsOf(fn);
    const others = overloads.filter((o) => o !== fn);
    const typeName = (a: CatalogFunctionArg) => a.type.name;
    // A function without arguments and one whose single unnamed argument has a default: a call
    // without arguments matches both.
    if (inputs.length === 0) {
      const other = others.find((o) => {
        const theirs = inputsOf(o);
        return theirs.length === 1 && theirs[0]?.name === '' && theirs[0].hasDefault;
      });
      if (other)
        return `Could not choose the best candidate function between: ${fn.schema}.${fn.name}(), ${fn.schema}.${fn.name}( => ${other.returnType.name}). Try renaming the parameters or the function itself in the database so function overloading can be resolved`;
    }
    // One named argument, overloaded on its type alone: PostgREST cannot tell which is meant.
    const only = inputs.length === 1 ? inputs[0] : undefined;
    if (only && only.name !== '') {
      const clashing = others.filter((o) => {
        const theirs = inputsOf(o);
        return theirs.length === 1 && theirs[0]?.name === only.name && theirs[0].type.name !== only.type.name;
      });
      if (clashing.length > 0) {
        // Listed by the argument's type oid, as postgres-meta lists them.
        const list = [fn, ...clashing]
          .sort((a, b) => (inputsOf(a)[0]?.type.id ?? 0) - (inputsOf(b)[0]?.type.id ?? 0))
          .map(
            (f) =>
              `${fn.schema}.${fn.name}(${inputsOf(f)
                .map((a) => `${a.name} => ${typeName(a)}`)
                .join(', ')})`,
          )
          .join(', ');
        return `Could not choose the best candidate function between: ${list}. Try renaming the parameters or the function itself in the database so function overloading can be resolved`;
      }
    }
    return undefined;
  };

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
          `columns: ${JSON.stringify(f.columns).replaceAll(',', ', ')}`,
          `isOneToOne: ${String(f.oneToOne)}`,
          `referencedRelation: ${literal(f.refTable)}`,
          `referencedColumns: ${JSON.stringify(f.refColumns).replaceAll(',', ', ')}`,
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
        .filter((f) => f.args.length === 1 && f.args[0]?.name === '' && f.args[0].type.format === relation.name)
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

function isView(relation: CatalogRelation): boolean {
  return relation.kind === 'view' || relation.kind === 'materialized_view';
}

function nullableType(type: TsType): TsType {
  if (typeof type !== 'string') return union([type, 'null']);
  return type === 'unknown' || type === 'any' ? type : `${type} | null`;
}

/** A stable order of overloads: their arguments as PostgreSQL would list them. */
function describeArgs(fn: CatalogFunction): string {
  return fn.args.map((a) => `${a.mode} ${a.name} ${a.type.format}`).join(', ');
}

function setofOptions(
  fn: CatalogFunction,
  returnName: string | null,
  manyRows: boolean,
  isRowType: (ref: CatalogTypeRef) => boolean,
): TsType | undefined {
  const options = (from: string, to: string, oneToOne: boolean, setof: boolean) =>
    object([
      { key: 'from', type: literal(from) },
      { key: 'to', type: literal(to) },
      { key: 'isOneToOne', type: String(oneToOne) },
      { key: 'isSetofReturn', type: String(setof) },
    ]);
  let result: TsType | undefined;
  // Rows of a relation: postgrest-js lets a call select their columns and embed from them.
  if (returnName) result = options('*', returnName, !manyRows, fn.returnsSet);
  // A function of one row (a computed relationship): its rows embed from that row's relation.
  const only = fn.args.length === 1 ? fn.args[0] : undefined;
  if (only && isRowType(only.type) && returnName) {
    const setOfRows = fn.returnsSet && fn.returnRelation !== null;
    result = setOfRows
      ? options(only.type.format, returnName, !manyRows, true)
      : options(only.type.format, returnName, true, false);
  }
  return result;
}
