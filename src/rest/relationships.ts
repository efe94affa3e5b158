/**
 * Finds the relationship an embedded resource (`select=*,author(*)`) refers to, from the foreign
 * keys in the schema cache: many-to-one, one-to-many, or many-to-many through a junction table.
 * A hint (`author!messages_author_id_fkey(*)`, `users!author_id(*)`, `tags!post_tags(*)`) picks
 * one when several fit, as in PostgREST.
 */
import { ApiError } from '../errors.js';
import type { SelectEmbed } from './ast.js';
import type { ForeignKey, Relation, SchemaCache } from './schema.js';

export type Relationship =
  | { readonly kind: 'many-to-one'; readonly target: Relation; readonly fk: ForeignKey }
  | { readonly kind: 'one-to-many'; readonly target: Relation; readonly fk: ForeignKey }
  | {
      readonly kind: 'many-to-many';
      readonly target: Relation;
      readonly junction: Relation;
      /** junction → parent */
      readonly toParent: ForeignKey;
      /** junction → target */
      readonly toTarget: ForeignKey;
    };

/**
 * Whether an embed answers one object (or null) rather than an array: a many-to-one, or a
 * one-to-many whose key is unique on the many side (a one-to-one, as PostgREST detects it).
 */
export function isToOne(r: Relationship): boolean {
  return r.kind === 'many-to-one' || (r.kind === 'one-to-many' && r.fk.oneToOne === true);
}

/** PostgREST's names for the kinds, in PGRST201 details: a unique key makes either side one-to-one. */
function cardinality(r: Relationship): string {
  return r.kind !== 'many-to-many' && r.fk.oneToOne === true ? 'one-to-one' : r.kind;
}

const is = (fk: ForeignKey, fromSchema: string, from: string, toSchema: string, to: string) =>
  fk.schema === fromSchema && fk.table === from && fk.refSchema === toSchema && fk.refTable === to;

function candidates(cache: SchemaCache, parent: Relation, target: Relation): Relationship[] {
  const found: Relationship[] = [];
  for (const fk of cache.foreignKeys(parent.schema, parent.name)) {
    if (is(fk, parent.schema, parent.name, target.schema, target.name)) found.push({ kind: 'many-to-one', target, fk });
    if (is(fk, target.schema, target.name, parent.schema, parent.name)) found.push({ kind: 'one-to-many', target, fk });
  }
  // Junctions: a third table with a foreign key to each side.
  const toParent = cache
    .foreignKeys(parent.schema, parent.name)
    .filter((fk) => fk.refSchema === parent.schema && fk.refTable === parent.name);
  for (const a of toParent) {
    if (a.table === parent.name && a.schema === parent.schema) continue;
    const junction = cache.relation(a.schema, a.table);
    if (!junction || (junction.schema === target.schema && junction.name === target.name)) continue;
    for (const b of cache.foreignKeys(junction.schema, junction.name)) {
      if (b !== a && is(b, junction.schema, junction.name, target.schema, target.name)) {
        found.push({ kind: 'many-to-many', target, junction, toParent: a, toTarget: b });
      }
    }
  }
  return found;
}

function matchesHint(r: Relationship, hint: string): boolean {
  if (r.kind === 'many-to-many')
    return r.junction.name === hint || r.toParent.name === hint || r.toTarget.name === hint;
  return (
    r.fk.name === hint ||
    (r.fk.columns.length === 1 && r.fk.columns[0] === hint) ||
    (r.kind === 'many-to-one' && r.fk.refColumns[0] === hint && r.fk.columns.length === 1)
  );
}

export function resolveRelationship(cache: SchemaCache, parent: Relation, embed: SelectEmbed): Relationship {
  const target = cache.relation(parent.schema, embed.relation);
  let found: Relationship[];
  if (target) {
    found = candidates(cache, parent, target);
  } else {
    // PostgREST also embeds through a foreign key's name or its column: `author_id(*)`.
    found = cache
      .foreignKeys(parent.schema, parent.name)
      .filter(
        (fk) =>
          fk.schema === parent.schema &&
          fk.table === parent.name &&
          (fk.name === embed.relation || (fk.columns.length === 1 && fk.columns[0] === embed.relation)),
      )
      .flatMap((fk) => {
        const to = cache.relation(fk.refSchema, fk.refTable);
        return to ? [{ kind: 'many-to-one' as const, target: to, fk }] : [];
      });
  }
  if (embed.hint !== undefined) found = found.filter((r) => matchesHint(r, embed.hint ?? ''));
  if (found.length === 1) return found[0] as Relationship;
  const names = `'${parent.name}' and '${embed.relation}'`;
  if (found.length === 0) {
    throw new ApiError(400, 'PGRST200', `Could not find a relationship between ${names} in the schema cache`, {
      details: `Searched for a foreign key relationship between ${names}${embed.hint ? ` using the hint '${embed.hint}'` : ''} in the schema '${parent.schema}', but no matches were found.`,
      hint: null,
    });
  }
  throw new ApiError(300, 'PGRST201', `Could not embed because more than one relationship was found for ${names}`, {
    details: JSON.stringify(
      found.map((r) => ({
        cardinality: cardinality(r),
        embedding: `${parent.name} with ${r.target.name}`,
        relationship:
          r.kind === 'many-to-many'
            ? `${r.junction.name} using ${r.toParent.name} and ${r.toTarget.name}`
            : `${r.fk.name} using ${r.fk.table}(${r.fk.columns.join(', ')}) and ${r.fk.refTable}(${r.fk.refColumns.join(', ')})`,
      })),
    ),
    hint: `Try changing '${embed.relation}' to one of the following: ${found.map((r) => `'${embed.relation}!${r.kind === 'many-to-many' ? r.junction.name : r.fk.name}'`).join(', ')}. Find the desired relationship in the 'details' key.`,
  });
}
