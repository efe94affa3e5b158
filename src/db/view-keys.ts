/**
 * The keys views carry over from their tables, as PostgREST and postgres-meta derive them: a view
 * showing every column of a table's foreign key has that key too (to the referenced table, or to
 * a view showing every referenced column), and a view showing a table's whole primary key has it.
 * Pure: it reads the relations' stored queries through view-origins.ts.
 */
import { viewColumnOrigins } from './view-origins.js';

export interface KeyRelation {
  readonly oid: number;
  readonly schema: string;
  readonly name: string;
  /** A view's stored query (pg_rewrite.ev_action as text); null for a table. */
  readonly definition: string | null;
  readonly pk: readonly string[];
  readonly columns: readonly { readonly name: string; readonly attnum: number }[];
}

/** A foreign key as the data API, the types generator and the OpenAPI root see it. */
export interface ForeignKey {
  readonly name: string;
  readonly schema: string;
  readonly table: string;
  readonly columns: readonly string[];
  readonly refSchema: string;
  readonly refTable: string;
  readonly refColumns: readonly string[];
  /**
   * The key's columns are also the referencing table's primary key or a unique key: each row on
   * either side has at most one on the other, and an embed either way is an object (PostgREST's O2O).
   */
  readonly oneToOne: boolean;
}

/** Every combination of one item from each list (a key column a view shows twice gives two keys). */
function combinations(lists: readonly (readonly string[])[]): string[][] {
  return lists.reduce<string[][]>(
    (done, list) => done.flatMap((prefix) => list.map((item) => [...prefix, item])),
    [[]],
  );
}

export function viewKeys(
  relations: readonly KeyRelation[],
  tableKeys: readonly ForeignKey[],
): { foreignKeys: ForeignKey[]; primaryKeys: Map<number, string[]> } {
  const byName = new Map(relations.map((r) => [`${r.schema}.${r.name}`, r]));
  const views = relations.filter((r) => r.definition !== null);
  const origins = new Map(views.map((v) => [v.oid, viewColumnOrigins(v.definition ?? '')]));
  // A view column's table column ("oid.attnum"), through views of views; a cycle ends the trail.
  const baseOf = (oid: number, attnum: number, seen: ReadonlySet<number>): string | undefined => {
    const viewOrigins = origins.get(oid);
    if (!viewOrigins) return `${oid}.${attnum}`;
    const origin = viewOrigins.find((o) => o.column === attnum);
    if (!origin || seen.has(origin.relationOid)) return undefined;
    return baseOf(origin.relationOid, origin.relationColumn, new Set([...seen, oid]));
  };
  // For each view, its columns by the table column they show.
  const shown = new Map(
    views.map((v) => {
      const columns = new Map<string, string[]>();
      for (const c of v.columns) {
        const base = baseOf(v.oid, c.attnum, new Set([v.oid]));
        if (base) columns.set(base, [...(columns.get(base) ?? []), c.name]);
      }
      return [v.oid, columns] as const;
    }),
  );
  const columnId = (relation: KeyRelation | undefined, name: string): string => {
    const column = relation?.columns.find((c) => c.name === name);
    return relation && column ? `${relation.oid}.${column.attnum}` : '';
  };
  // The ways `view` shows all of `names` of `relation`: none when one of them is missing.
  const showings = (view: KeyRelation, relation: KeyRelation | undefined, names: readonly string[]): string[][] =>
    combinations(names.map((n) => shown.get(view.oid)?.get(columnId(relation, n)) ?? []));

  const foreignKeys: ForeignKey[] = [];
  for (const key of tableKeys) {
    const from = byName.get(`${key.schema}.${key.table}`);
    const to = byName.get(`${key.refSchema}.${key.refTable}`);
    const sources = [
      { schema: key.schema, table: key.table, columns: [[...key.columns]] },
      ...views.map((v) => ({ schema: v.schema, table: v.name, columns: showings(v, from, key.columns) })),
    ];
    const targets = [
      { schema: key.refSchema, table: key.refTable, columns: [[...key.refColumns]] },
      ...views.map((v) => ({ schema: v.schema, table: v.name, columns: showings(v, to, key.refColumns) })),
    ];
    sources.forEach((source, i) =>
      targets.forEach((target, j) => {
        if (i === 0 && j === 0) return; // the table's own key, listed already
        for (const columns of source.columns)
          for (const refColumns of target.columns)
            foreignKeys.push({
              ...key,
              schema: source.schema,
              table: source.table,
              columns,
              refSchema: target.schema,
              refTable: target.table,
              refColumns,
            });
      }),
    );
  }
  const primaryKeys = new Map<number, string[]>();
  for (const view of views) {
    for (const table of relations) {
      const first = table.definition === null && table.pk.length > 0 ? showings(view, table, table.pk)[0] : undefined;
      if (first) {
        primaryKeys.set(view.oid, first);
        break;
      }
    }
  }
  return { foreignKeys, primaryKeys };
}
