/**
 * The relations one read evaluates: the relation addressed and every embedded one (with the
 * junction of a many-to-many), found the way the planner finds them. Anything the cache cannot
 * follow (a computed field or relationship calls a function; an embed named by a foreign key or a
 * column) makes the read uncacheable rather than guessed at. Pure.
 */
import type { Condition, SelectItem } from '../ast.js';
import { relationshipsFrom } from '../relationships.js';
import type { ReadRequest } from '../request.js';
import type { Relation, SchemaCache } from '../schema.js';

const nameOf = (r: Relation) => `${r.schema}.${r.name}`;

/** `schema.name` of each relation read, or undefined when the read cannot be followed. */
export function readRelations(cache: SchemaCache, request: ReadRequest): string[] | undefined {
  const found = new Set<string>([nameOf(request.relation)]);
  // Embed path (names and aliases, as filters write them) -> its relation, for the column checks.
  const byPath = new Map<string, Relation>([['', request.relation]]);
  const walk = (relation: Relation, items: readonly SelectItem[], path: readonly string[]): boolean => {
    for (const item of items) {
      if (item.kind === 'column' && !relation.columns.has(item.field.name)) return false;
      if (item.kind !== 'embed') continue;
      const candidates = relationshipsFrom(cache, relation).filter((r) => r.target.name === item.relation);
      const target = candidates[0]?.target;
      if (!target || candidates.some((r) => r.kind === 'computed')) return false;
      for (const r of candidates) {
        found.add(nameOf(r.target));
        if (r.kind === 'many-to-many') found.add(nameOf(r.junction));
      }
      for (const step of new Set([item.relation, item.alias ?? item.relation])) {
        const at = [...path, step];
        byPath.set(at.join('\u0000'), target);
        if (!walk(target, item.select, at)) return false;
      }
    }
    return true;
  };
  if (!walk(request.relation, request.query.select, [])) return undefined;
  const columnsKnown = (path: readonly string[], names: readonly string[]) => {
    const relation = byPath.get(path.join('\u0000'));
    return relation !== undefined && names.every((n) => relation.columns.has(n));
  };
  for (const { path, condition } of request.query.filters)
    if (!columnsKnown(path, conditionColumns(condition))) return undefined;
  for (const { path, terms } of request.query.order)
    if (terms.some((t) => t.relation === undefined && !columnsKnown(path, [t.field.name]))) return undefined;
  return [...found].sort();
}

function conditionColumns(condition: Condition): string[] {
  return condition.kind === 'filter' ? [condition.field.name] : condition.conditions.flatMap(conditionColumns);
}
