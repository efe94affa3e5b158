/**
 * Finds the relationship an embedded resource (`select=*,author(*)`) refers to among those of the
 * parent in the schema cache, with PostgREST's rules: a target names a relation, a foreign key, a
 * foreign key's column, or a computed relationship's function; a hint
 * (`author!messages_author_id_fkey(*)`, `users!author_id(*)`, `tags!post_tags(*)`) picks one
 * when several fit. A self-referencing key reads as children by the table's name and as the
 * parent by the key's column (`collections(*)`, `parent_id(*)`).
 */
import { ApiError } from '../errors.js';
import { ident } from '../db/index.js';
import type { SelectEmbed } from './ast.js';
import { buildRelationships, isView, type Relationship as GraphRelationship } from './relationship-graph.js';
import type { ForeignKey, Relation, SchemaCache } from './schema.js';

export type Relationship = GraphRelationship<Relation>;

/**
 * Whether an embed answers one object (or null) rather than an array: a many-to-one, a one-to-many
 * whose key is unique on the many side (a one-to-one, as PostgREST detects it), or a computed
 * relationship returning one row.
 */
export function isToOne(r: Relationship): boolean {
  if (r.kind === 'computed') return r.toOne;
  return r.kind === 'many-to-one' || (r.kind === 'one-to-many' && r.fk.oneToOne === true);
}

/** PostgREST's names for the kinds, in PGRST201 details: a unique key makes either side one-to-one. */
function cardinality(r: Relationship): string {
  return r.kind !== 'many-to-many' && r.kind !== 'computed' && r.fk.oneToOne === true ? 'one-to-one' : r.kind;
}

/** The relationships from `parent`; a cache built by hand (tests) has them from its foreign keys. */
export function relationshipsFrom(cache: SchemaCache, parent: Relation): readonly Relationship[] {
  if (cache.relationships) return cache.relationships(parent.schema, parent.name);
  const fks = new Map<string, ForeignKey>();
  const add = (f: ForeignKey) => fks.set(`${f.schema}.${f.table}.${f.name}`, f);
  cache.foreignKeys(parent.schema, parent.name).forEach(add);
  for (const fk of [...fks.values()]) {
    cache.foreignKeys(fk.schema, fk.table).forEach(add);
    cache.foreignKeys(fk.refSchema, fk.refTable).forEach(add);
  }
  const relations = new Map<string, Relation>([[`${parent.schema}.${parent.name}`, parent]]);
  for (const fk of fks.values()) {
    for (const [schema, name] of [
      [fk.schema, fk.table],
      [fk.refSchema, fk.refTable],
    ] as const) {
      const r = cache.relation(schema, name);
      if (r) relations.set(`${schema}.${name}`, r);
    }
  }
  return buildRelationships(relations, [...fks.values()], [], []).get(`${parent.schema}.${parent.name}`) ?? [];
}

/** The key's columns as (origin side, target side) pairs, as PostgREST orients them. */
function columnPairs(r: Relationship): readonly (readonly [string, string])[] {
  if (r.kind === 'many-to-one') return r.fk.columns.map((c, i) => [c, r.fk.refColumns[i] ?? ''] as const);
  if (r.kind === 'one-to-many') return r.fk.refColumns.map((c, i) => [c, r.fk.columns[i] ?? ''] as const);
  return [];
}

const isSelf = (r: Relationship) =>
  (r.kind === 'many-to-one' || r.kind === 'one-to-many') &&
  r.fk.schema === r.fk.refSchema &&
  r.fk.table === r.fk.refTable;

function matches(r: Relationship, target: string, hint: string | undefined): boolean {
  if (r.kind === 'computed') return r.function.name === target;
  const pairs = columnPairs(r);
  const single = pairs.length === 1 ? pairs[0] : undefined;
  const originColumn = (name: string) => single?.[0] === name;
  const targetColumn = (name: string) => single?.[1] === name;
  const constraint = (name: string) => r.kind !== 'many-to-many' && r.fk.name === name;
  const named = r.target.name === target;
  if (isSelf(r)) {
    // One key, two readings: PostgREST tells them apart by the target, never by the key's name.
    const oneToMany = r.kind === 'one-to-many' && r.fk.oneToOne !== true;
    const manyToOne = r.kind === 'many-to-one' && r.fk.oneToOne !== true;
    if (hint === undefined) return (named && oneToMany) || (originColumn(target) && manyToOne);
    return named && oneToMany && targetColumn(hint);
  }
  if (hint === undefined) return named || (!isView(r.target) && (constraint(target) || originColumn(target)));
  return (
    named &&
    (constraint(hint) ||
      originColumn(hint) ||
      targetColumn(hint) ||
      (r.kind === 'many-to-many' && r.junction.name === hint))
  );
}

function describe(parent: Relation, r: Relationship): Record<string, string> {
  const cols = (names: readonly string[]) => `(${names.join(', ')})`;
  const pairs = columnPairs(r);
  return {
    cardinality: cardinality(r),
    embedding: `${parent.name} with ${r.target.name}`,
    relationship:
      r.kind === 'many-to-many'
        ? `${r.junction.name} using ${r.toParent.name}${cols(r.toParent.columns)} and ${r.toTarget.name}${cols(r.toTarget.columns)}`
        : r.kind === 'computed'
          ? `${r.function.name}`
          : `${r.fk.name} using ${parent.name}${cols(pairs.map((p) => p[0]))} and ${r.target.name}${cols(pairs.map((p) => p[1]))}`,
  };
}

export function resolveRelationship(cache: SchemaCache, parent: Relation, embed: SelectEmbed): Relationship {
  // PostgREST looks only among the relationships to the request's schema.
  const found = relationshipsFrom(cache, parent).filter(
    (r) => r.target.schema === parent.schema && matches(r, embed.relation, embed.hint),
  );
  if (found.length === 1) return found[0] as Relationship;
  const names = `'${parent.name}' and '${embed.relation}'`;
  if (found.length === 0) {
    throw new ApiError(400, 'PGRST200', `Could not find a relationship between ${names} in the schema cache`, {
      details: `Searched for a foreign key relationship between ${names}${embed.hint !== undefined ? ` using the hint '${embed.hint}'` : ''} in the schema '${parent.schema}', but no matches were found.`,
      hint: null,
    });
  }
  const hintOf = (r: Relationship) =>
    `'${r.target.name}!${r.kind === 'many-to-many' ? r.junction.name : r.kind === 'computed' ? r.function.name : r.fk.name}'`;
  throw new ApiError(300, 'PGRST201', `Could not embed because more than one relationship was found for ${names}`, {
    // PostgREST's details here are a JSON array, not text.
    fields: { details: found.map((r) => describe(parent, r)) },
    hint: `Try changing '${embed.relation}' to one of the following: ${found.map(hintOf).join(', ')}. Find the desired relationship in the 'details' key.`,
  });
}

/**
 * Where an embed's rows come from under the parent row aliased `parent`,
 * and what ties them to it: a relation and a join condition, or a computed relationship's call.
 */
export function embedSource(
  r: Relationship,
  parent: string,
  child: string,
): { readonly from: string; readonly on: string } {
  const table = (x: Relation) => `${ident(x.schema)}.${ident(x.name)}`;
  if (r.kind === 'computed') {
    // The parent row is cast to the function's argument type: it may be a call's result (an
    // anonymous record), and an overloaded name is picked by that type.
    return {
      from: `${ident(r.function.schema)}.${ident(r.function.name)}(${parent}::${table(r.parent)})`,
      on: 'true',
    };
  }
  return { from: table(r.target), on: joinCondition(r, parent, child) };
}

function joinCondition(r: Exclude<Relationship, { kind: 'computed' }>, parent: string, child: string): string {
  const pairs = (left: string, leftCols: readonly string[], right: string, rightCols: readonly string[]) =>
    leftCols.map((c, i) => `${left}.${ident(c)} = ${right}.${ident(rightCols[i] ?? '')}`).join(' and ');
  switch (r.kind) {
    case 'many-to-one':
      return pairs(child, r.fk.refColumns, parent, r.fk.columns);
    case 'one-to-many':
      return pairs(child, r.fk.columns, parent, r.fk.refColumns);
    case 'many-to-many':
      return `exists (select 1 from ${ident(r.junction.schema)}.${ident(r.junction.name)} as j where ${pairs('j', r.toTarget.columns, child, r.toTarget.refColumns)} and ${pairs('j', r.toParent.columns, parent, r.toParent.refColumns)})`;
  }
}
