/**
 * Reads PostgreSQL's pg_node_tree text (pg_rewrite.ev_action: a view's parsed query) far enough to
 * know where each view column comes from. PostgreSQL records, for every output column of a query,
 * the table and column it was taken from unchanged (TargetEntry.resorigtbl/resorigcol); PostgREST
 * uses them to give a view the foreign keys of its base tables. Pure: text in, values out.
 */

/** A `{NAME :field value …}` node, a `(…)` list, an atom, or `<>` (null). */
export type NodeValue = NodeObject | readonly NodeValue[] | string | null;
export interface NodeObject {
  readonly node: string;
  readonly fields: ReadonlyMap<string, NodeValue>;
}

/** A view column taken straight from a relation's column (both by number: attnum). */
export interface ColumnOrigin {
  readonly column: number;
  readonly table: number;
  readonly tableColumn: number;
}

/**
 * Tokens are braces, parentheses and runs of other characters; outfuncs.c escapes whitespace,
 * braces, parentheses and backslashes inside names with a backslash, so a run ends only at an
 * unescaped one of them.
 */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === ' ' || c === '\n' || c === '\t' || c === '\r') {
      i++;
    } else if (c === '{' || c === '}' || c === '(' || c === ')') {
      tokens.push(c);
      i++;
    } else {
      let token = '';
      while (i < text.length) {
        const d = text[i] as string;
        if (d === '\\' && i + 1 < text.length) {
          token += text[i + 1];
          i += 2;
          continue;
        }
        if (d === ' ' || d === '\n' || d === '\t' || d === '\r' || d === '{' || d === '}' || d === '(' || d === ')')
          break;
        token += d;
        i++;
      }
      tokens.push(token);
    }
  }
  return tokens;
}

class Reader {
  private at = 0;
  constructor(private readonly tokens: readonly string[]) {}

  value(): NodeValue {
    const token = this.tokens[this.at++];
    if (token === undefined) throw new Error('unexpected end of node tree');
    if (token === '{') return this.object();
    if (token === '(') return this.list();
    if (token === '<>') return null;
    return token;
  }

  private object(): NodeObject {
    const node = this.tokens[this.at++] ?? '';
    const fields = new Map<string, NodeValue>();
    while (this.at < this.tokens.length && this.tokens[this.at] !== '}') {
      const key = this.tokens[this.at++] ?? '';
      // A field's value is usually one value; a few (a Const's datum: `4 [ 1 0 0 0 ]`) are several
      // atoms, kept as the first.
      const values: NodeValue[] = [];
      while (this.at < this.tokens.length && this.tokens[this.at] !== '}' && !this.tokens[this.at]?.startsWith(':'))
        values.push(this.value());
      fields.set(key.slice(1), values[0] ?? null);
    }
    this.at++;
    return { node, fields };
  }

  private list(): NodeValue[] {
    const items: NodeValue[] = [];
    while (this.at < this.tokens.length && this.tokens[this.at] !== ')') items.push(this.value());
    this.at++;
    return items;
  }
}

export function parseNodeTree(text: string): NodeValue {
  return new Reader(tokenize(text)).value();
}

const isList = (v: NodeValue | undefined): v is readonly NodeValue[] => Array.isArray(v);
const isObject = (v: NodeValue | undefined): v is NodeObject =>
  v !== null && v !== undefined && typeof v === 'object' && !isList(v);

/** The columns of a view's top-level query that come unchanged from a column of a relation. */
export function viewColumnOrigins(evAction: string): ColumnOrigin[] {
  let tree: NodeValue;
  try {
    tree = parseNodeTree(evAction);
  } catch {
    return [];
  }
  const query = isList(tree) ? tree[0] : tree;
  if (!isObject(query)) return [];
  const targets = query.fields.get('targetList');
  if (!isList(targets)) return [];
  const origins: ColumnOrigin[] = [];
  for (const entry of targets) {
    if (!isObject(entry) || entry.fields.get('resjunk') === 'true') continue;
    const column = Number(entry.fields.get('resno'));
    const table = Number(entry.fields.get('resorigtbl'));
    const tableColumn = Number(entry.fields.get('resorigcol'));
    if (column > 0 && table > 0 && tableColumn > 0) origins.push({ column, table, tableColumn });
  }
  return origins;
}
