/**
 * Every relationship an embed can follow, per origin relation, built once when the schema cache
 * loads (pure: catalog facts in, relationships out), as PostgREST builds its relationship map:
 * - a foreign key gives a many-to-one from the referencing side and a one-to-many back (one-to-one
 *   both ways when its columns are also unique);
 * - a view whose columns come unchanged from a table's key columns carries that table's foreign
 *   keys (to tables, from tables, and between two such views);
 * - a junction whose primary key holds the columns of two foreign keys gives a many-to-many;
 * - a function `f(t) returns [setof] r`, with t and r tables or views, is a computed relationship
 *   from t named f, to-one unless it returns a set (`rows 1` makes a set to-one); it replaces the
 *   foreign-key relationships from t to a relation named like it.
 */
import type { ForeignKey } from '../db/index.js';

/**
 * What the graph reads of a relation; generic so that the schema cache (which holds the graph)
 * and the graph do not import each other.
 */
export interface RelationLike {
  readonly schema: string;
  readonly name: string;
  readonly kind: string;
  readonly primaryKey: readonly string[];
}

export type { ForeignKey };

export type Relationship<Relation extends RelationLike = RelationLike> =
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
    }
  | {
      readonly kind: 'computed';
      readonly target: Relation;
      /** The function called with the parent row: `schema.name(parent)`. */
      readonly function: { readonly schema: string; readonly name: string };
      /** The relation whose row type the function takes. */
      readonly parent: Relation;
      readonly toOne: boolean;
    };

/** A view column that is a relation's column, unchanged. */
export interface ViewColumnSource<Relation extends RelationLike = RelationLike> {
  readonly view: Relation;
  readonly viewColumn: string;
  readonly table: Relation;
  readonly tableColumn: string;
}

/** A function of one table/view row returning rows of a table/view. */
export interface ComputedRelationshipSource<Relation extends RelationLike = RelationLike> {
  readonly schema: string;
  readonly name: string;
  readonly parent: Relation;
  readonly target: Relation;
  readonly toOne: boolean;
}

const keyOf = (r: { schema: string; name: string }) => `${r.schema}.${r.name}`;
export const isView = (r: RelationLike) => r.kind === 'view' || r.kind === 'materialized_view';

/** Every way of naming `columns` through a view that may show one column several times. */
function viewNamings(columns: readonly string[], byColumn: ReadonlyMap<string, readonly string[]>): string[][] {
  let namings: string[][] = [[]];
  for (const column of columns) {
    const names = byColumn.get(column) ?? [];
    namings = namings.flatMap((prefix) => names.map((n) => [...prefix, n]));
  }
  return namings;
}

/** Views over each table: view → (table column → view columns). */
function indexViews<Relation extends RelationLike>(sources: readonly ViewColumnSource<Relation>[]) {
  const byTable = new Map<string, Map<string, { view: Relation; columns: Map<string, string[]> }>>();
  for (const s of sources) {
    const views = byTable.get(keyOf(s.table)) ?? new Map<string, { view: Relation; columns: Map<string, string[]> }>();
    byTable.set(keyOf(s.table), views);
    const entry = views.get(keyOf(s.view)) ?? { view: s.view, columns: new Map<string, string[]>() };
    views.set(keyOf(s.view), entry);
    entry.columns.set(s.tableColumn, [...(entry.columns.get(s.tableColumn) ?? []), s.viewColumn]);
  }
  return (table: string) => [...(byTable.get(table)?.values() ?? [])];
}

/** The foreign keys as they read from views: the key's columns or its referenced columns renamed. */
function viewForeignKeys<Relation extends RelationLike>(
  fk: ForeignKey,
  viewsOver: (table: string) => { view: Relation; columns: Map<string, string[]> }[],
): ForeignKey[] {
  const fromViews = viewsOver(`${fk.schema}.${fk.table}`).flatMap(({ view, columns }) =>
    viewNamings(fk.columns, columns).map((cols) => ({ view, cols })),
  );
  const toViews = viewsOver(`${fk.refSchema}.${fk.refTable}`).flatMap(({ view, columns }) =>
    viewNamings(fk.refColumns, columns).map((cols) => ({ view, cols })),
  );
  return [
    ...fromViews.map(({ view, cols }) => ({ ...fk, schema: view.schema, table: view.name, columns: cols })),
    ...toViews.map(({ view, cols }) => ({ ...fk, refSchema: view.schema, refTable: view.name, refColumns: cols })),
    ...fromViews.flatMap((from) =>
      toViews.map((to) => ({
        ...fk,
        schema: from.view.schema,
        table: from.view.name,
        columns: from.cols,
        refSchema: to.view.schema,
        refTable: to.view.name,
        refColumns: to.cols,
      })),
    ),
  ];
}

const KIND_ORDER: Record<Relationship['kind'], number> = {
  'one-to-many': 0,
  'many-to-one': 1,
  'many-to-many': 3,
  computed: 4,
};

function sortKey(r: Relationship): [string, number, string] {
  const self = r.kind === 'many-to-one' || r.kind === 'one-to-many' ? isSelfKey(r.fk) : false;
  // PostgREST orders by target, then self or not, then cardinality (one-to-one after both
  // directions), then the constraint: the order of PGRST201's details.
  const kind = r.kind !== 'many-to-many' && r.kind !== 'computed' && r.fk.oneToOne ? 2 : KIND_ORDER[r.kind];
  const name = r.kind === 'many-to-many' ? r.junction.name : r.kind === 'computed' ? r.function.name : r.fk.name;
  return [`${r.target.schema}\u0000${r.target.name}\u0000${self ? 1 : 0}`, kind, name];
}

const isSelfKey = (fk: ForeignKey) => fk.schema === fk.refSchema && fk.table === fk.refTable;

export function buildRelationships<Relation extends RelationLike>(
  relations: ReadonlyMap<string, Relation>,
  foreignKeys: readonly ForeignKey[],
  viewColumns: readonly ViewColumnSource<Relation>[],
  computed: readonly ComputedRelationshipSource<Relation>[],
): Map<string, Relationship<Relation>[]> {
  const byOrigin = new Map<string, Relationship<Relation>[]>();
  const add = (origin: string, r: Relationship<Relation>) => byOrigin.set(origin, [...(byOrigin.get(origin) ?? []), r]);
  const viewsOver = indexViews(viewColumns);
  const manyToOne = new Map<string, ForeignKey[]>();
  for (const base of foreignKeys) {
    for (const fk of [base, ...viewForeignKeys(base, viewsOver)]) {
      const from = relations.get(`${fk.schema}.${fk.table}`);
      const to = relations.get(`${fk.refSchema}.${fk.refTable}`);
      if (!from || !to) continue;
      add(keyOf(from), { kind: 'many-to-one', target: to, fk });
      add(keyOf(to), { kind: 'one-to-many', target: from, fk });
      manyToOne.set(keyOf(from), [...(manyToOne.get(keyOf(from)) ?? []), fk]);
    }
  }
  for (const [junctionKey, fks] of manyToOne) {
    const junction = relations.get(junctionKey);
    if (!junction || junction.primaryKey.length === 0) continue;
    const pk = new Set(junction.primaryKey);
    for (const toParent of fks) {
      for (const toTarget of fks) {
        if (toParent.name === toTarget.name) continue;
        if (![...toParent.columns, ...toTarget.columns].every((c) => pk.has(c))) continue;
        const parent = relations.get(`${toParent.refSchema}.${toParent.refTable}`);
        const target = relations.get(`${toTarget.refSchema}.${toTarget.refTable}`);
        if (parent && target) add(keyOf(parent), { kind: 'many-to-many', target, junction, toParent, toTarget });
      }
    }
  }
  for (const c of computed) {
    const origin = keyOf(c.parent);
    const kept = (byOrigin.get(origin) ?? []).filter(
      (r) => r.kind === 'computed' || r.target.schema !== c.schema || r.target.name !== c.name,
    );
    byOrigin.set(origin, [
      ...kept,
      {
        kind: 'computed',
        target: c.target,
        function: { schema: c.schema, name: c.name },
        parent: c.parent,
        toOne: c.toOne,
      },
    ]);
  }
  for (const list of byOrigin.values()) {
    list.sort((a, b) => {
      const [ka, oa, na] = sortKey(a);
      const [kb, ob, nb] = sortKey(b);
      return ka < kb ? -1 : ka > kb ? 1 : oa - ob || (na < nb ? -1 : na > nb ? 1 : 0);
    });
  }
  return byOrigin;
}
