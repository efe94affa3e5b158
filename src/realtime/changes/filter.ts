/**
 * The `filter` of a postgres_changes subscription: `column=op.value` conditions joined by commas
 * (AND), each optionally negated with `not.`, values PostgREST-quoted when they hold `,()"\`.
 * The operators are the ones realtime-js's RealtimePostgresFilterBuilder offers and Supabase's
 * Realtime evaluates. Pure: a string in, conditions or an error message out.
 */

export const FILTER_OPERATORS = [
  'eq',
  'neq',
  'lt',
  'lte',
  'gt',
  'gte',
  'in',
  'like',
  'ilike',
  'is',
  'match',
  'imatch',
  'isdistinct',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

export interface FilterCondition {
  readonly column: string;
  readonly op: FilterOperator;
  readonly negate: boolean;
  /** One value; a list for `in`; for `is`, one of null/true/false/unknown. */
  readonly value: string | readonly string[];
}

export type ParsedFilter =
  | { readonly ok: true; readonly conditions: readonly FilterCondition[] }
  | { readonly ok: false; readonly message: string };

/** Supabase refuses `in` lists longer than this. */
export const MAX_IN_VALUES = 100;
const IS_VALUES = new Set(['null', 'true', 'false', 'unknown']);

export function parseFilter(filter: string | undefined): ParsedFilter {
  if (filter === undefined || filter.trim() === '') return { ok: true, conditions: [] };
  const parts = splitOutside(filter, ',');
  if (!parts) return { ok: false, message: `invalid filter "${filter}": unbalanced quotes or parentheses` };
  const conditions: FilterCondition[] = [];
  for (const part of parts) {
    const parsed = parseCondition(part.trim());
    if (typeof parsed === 'string') return { ok: false, message: `invalid filter "${filter}": ${parsed}` };
    conditions.push(parsed);
  }
  return { ok: true, conditions };
}

function parseCondition(text: string): FilterCondition | string {
  const eq = text.indexOf('=');
  if (eq <= 0) return `"${text}" is not of the form column=operator.value`;
  const column = text.slice(0, eq).trim();
  let rest = text.slice(eq + 1);
  let negate = false;
  if (rest.startsWith('not.')) {
    negate = true;
    rest = rest.slice(4);
  }
  const dot = rest.indexOf('.');
  const op = (dot < 0 ? rest : rest.slice(0, dot)) as FilterOperator;
  if (!FILTER_OPERATORS.includes(op)) {
    return `"${op}" is not a supported operator (use one of ${FILTER_OPERATORS.join(', ')})`;
  }
  if (dot < 0) return `operator "${op}" needs a value (${column}=${op}.value)`;
  const raw = rest.slice(dot + 1);
  if (op === 'in') {
    if (!raw.startsWith('(') || !raw.endsWith(')')) return `"in" takes a list in parentheses: ${column}=in.(a,b)`;
    const items = splitOutside(raw.slice(1, -1), ',');
    if (!items) return 'unbalanced quotes in the "in" list';
    const values = items.map((item) => unquote(item.trim()));
    if (values.length === 0 || (values.length === 1 && values[0] === '')) return `"in" needs at least one value`;
    if (values.length > MAX_IN_VALUES) return `too many values for "in" (at most ${MAX_IN_VALUES})`;
    return { column, op, negate, value: values };
  }
  const value = unquote(raw);
  if (op === 'is' && !IS_VALUES.has(value.toLowerCase()))
    return `"is" takes null, true, false or unknown, not "${value}"`;
  return { column, op, negate, value: op === 'is' ? value.toLowerCase() : value };
}

/** `"a,b"` -> `a,b` with `\"` and `\\` unescaped; anything else as it is. */
function unquote(text: string): string {
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) return text.slice(1, -1).replace(/\\(.)/g, '$1');
  return text;
}

/** Splits on `sep` outside double quotes and parentheses; undefined when they are unbalanced. */
function splitOutside(text: string, sep: string): string[] | undefined {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '(') depth++;
    else if (c === ')') {
      if (--depth < 0) return undefined;
    } else if (c === sep && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  if (quoted || depth !== 0) return undefined;
  parts.push(text.slice(start));
  return parts;
}
