/**
 * The PostgREST request grammar as data. `parse.ts` turns a query string into these values (pure);
 * `plan.ts` turns them, with the schema cache, into one parameterised SQL statement.
 */

/** `data->a->>b`: a column followed by JSON path steps. */
export interface Field {
  readonly name: string;
  readonly jsonPath: readonly JsonPathStep[];
}

export interface JsonPathStep {
  readonly arrow: '->' | '->>';
  /** A key, or an array index when the step is written as an integer (`->0`). */
  readonly key: string | number;
}

export const FILTER_OPERATORS = [
  'eq',
  'neq',
  'gt',
  'gte',
  'lt',
  'lte',
  'like',
  'ilike',
  'match',
  'imatch',
  'in',
  'is',
  'isdistinct',
  'fts',
  'plfts',
  'phfts',
  'wfts',
  'cs',
  'cd',
  'ov',
  'sl',
  'sr',
  'nxl',
  'nxr',
  'adj',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** `col=not.eq(any).{a,b}`-style filter on one field. Values stay text; the planner casts them. */
export interface Filter {
  readonly kind: 'filter';
  readonly field: Field;
  readonly operator: FilterOperator;
  readonly negate: boolean;
  /** `eq(any)`, `like(all)`: the value is a list compared with ANY/ALL. */
  readonly quantifier?: 'any' | 'all';
  /** Full-text search configuration: `fts(english).word`. */
  readonly language?: string;
  /**
   * The operand: a list for `in` (`in.()` is empty) and for quantified operators (`eq(any).{a,b}`,
   * read as a one-dimensional array literal); for `is`, one of null/not_null/true/false/unknown,
   * lower-cased; raw text otherwise, including array, range and JSON operands (`cs.{a,b}`,
   * `cs.[1,2]`, `sl.(1,10)`), which PostgreSQL parses as a literal of the column's type.
   */
  readonly value: string | readonly string[];
}

/** `or=(a.eq.1,and(b.gt.2,c.lt.3))`, `not.and=(...)`. */
export interface Logic {
  readonly kind: 'logic';
  readonly operator: 'and' | 'or';
  readonly negate: boolean;
  readonly conditions: readonly Condition[];
}

export type Condition = Filter | Logic;

export type SelectItem = SelectColumn | SelectStar | SelectCount | SelectEmbed;

/** A bare `*`. A column named `*` is written `"*"` and is a SelectColumn. */
export interface SelectStar {
  readonly kind: 'star';
}

/** `count()`, `total:count()::int`: the number of rows, a column of its own. */
export interface SelectCount {
  readonly kind: 'count';
  readonly alias?: string;
  readonly cast?: string;
}

/** `alias:data->>name::text`, and aggregates of a column like `amount.sum()`, `id.count()`. */
export interface SelectColumn {
  readonly kind: 'column';
  readonly field: Field;
  readonly alias?: string;
  readonly cast?: string;
  readonly aggregate?: 'count' | 'sum' | 'avg' | 'min' | 'max';
  /** Cast applied to the aggregate's result: `amount.sum()::int`. */
  readonly aggregateCast?: string;
}

/** `alias:relation!hint!inner(select…)`, or a spread `...relation(select…)`. */
export interface SelectEmbed {
  readonly kind: 'embed';
  readonly relation: string;
  readonly alias?: string;
  /** A foreign key name, a column, or a join table that disambiguates the relationship. */
  readonly hint?: string;
  readonly joinType?: 'inner' | 'left';
  readonly spread: boolean;
  readonly select: readonly SelectItem[];
}

export interface OrderTerm {
  readonly field: Field;
  readonly direction?: 'asc' | 'desc';
  readonly nulls?: 'first' | 'last';
  /** Order by a column of an embedded to-one resource: `order=author(name).desc`. */
  readonly relation?: string;
}

/** Where in the embedding tree a filter/order/limit applies: [] is the top level, ['author'] an embed. */
export type EmbedPath = readonly string[];

export interface ReadQuery {
  readonly select: readonly SelectItem[];
  readonly filters: readonly { readonly path: EmbedPath; readonly condition: Condition }[];
  readonly order: readonly { readonly path: EmbedPath; readonly terms: readonly OrderTerm[] }[];
  readonly ranges: readonly { readonly path: EmbedPath; readonly limit?: number; readonly offset?: number }[];
}
