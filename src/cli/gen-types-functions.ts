/**
 * The `Functions` of generated types, by postgres-meta's rules: only what PostgREST can call,
 * `Args` from the input arguments, `Returns` from the result (rows of a relation, TABLE columns, a
 * value), `SetofOptions` for those returning rows, and an error type where PostgREST could not
 * choose between overloads. Pure.
 */
import type { Catalog, CatalogFunction, CatalogFunctionArg, CatalogTypeRef } from '../db/index.js';
import { byName, key, type TypeMapper } from './gen-types-map.js';
import { intersection, literal, object, type TsMember, type TsType } from './ts-print.js';

/** The types a single unnamed argument may have and still be called (the body is passed whole). */
const WHOLE_BODY = new Set(['json', 'jsonb', 'text']);
const INPUT_MODES = new Set<CatalogFunctionArg['mode']>(['in', 'inout', 'variadic']);

export interface FunctionTypes {
  readonly callable: readonly CatalogFunction[];
  /** What a call answers, without the array of a set (a computed field's type). */
  readonly returnObject: (fn: CatalogFunction) => TsType;
  readonly signature: (fn: CatalogFunction, overloads: readonly CatalogFunction[]) => TsType;
}

export function functionTypes(catalog: Catalog, map: TypeMapper): FunctionTypes {
  const { relations, isRowType, tsType, nullable, sortedColumns } = map;
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
  return { callable, returnObject, signature };
}

/** The order postgres-meta gives overloads: their arguments as pg_get_function_arguments lists them. */
export function describeArgs(fn: CatalogFunction): string {
  const prefix: Record<string, string> = { in: '', out: 'OUT ', inout: 'INOUT ', variadic: 'VARIADIC ' };
  return fn.args
    .filter((a) => a.mode !== 'table')
    .map((a) => `${prefix[a.mode] ?? ''}${a.name === '' ? '' : `${a.name} `}${a.type.format}`)
    .join(', ');
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
