/**
 * Where a view's columns come from, read from its stored query (`pg_rewrite.ev_action`, the parse
 * tree as PostgreSQL prints it): PostgreSQL marks each output column that is a plain column of a
 * table or view with that relation's oid and column number (`:resorigtbl`, `:resorigcol`). This is
 * what lets keys carry over to views, as PostgREST and postgres-meta carry them. Pure.
 */

type NodeValue = string | null | NodeValue[] | TreeNode;
interface TreeNode {
  readonly type: string;
  readonly fields: Map<string, NodeValue>;
}

export interface ColumnOrigin {
  /** The view's column number. */
  readonly column: number;
  readonly relationOid: number;
  readonly relationColumn: number;
}

/** Splits node-tree text into tokens: braces and parentheses, and atoms with their `\` escapes undone. */
function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let atom = '';
  let inAtom = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '\\' && i + 1 < text.length) {
      atom += text[++i];
      inAtom = true;
    } else if (ch === '{' || ch === '}' || ch === '(' || ch === ')' || /\s/.test(ch)) {
      if (inAtom) tokens.push(atom);
      atom = '';
      inAtom = false;
      if (!/\s/.test(ch)) tokens.push(ch);
    } else {
      atom += ch;
      inAtom = true;
    }
  }
  if (inAtom) tokens.push(atom);
  return tokens;
}

/** Parses the tokens into nodes and lists; what does not fit the shape (a Const's raw bytes) is skipped. */
function parse(tokens: readonly string[]): NodeValue {
  let at = 0;
  const value = (): NodeValue => {
    const token = tokens[at++];
    if (token === '{') {
      const type = tokens[at++] ?? '';
      const fields = new Map<string, NodeValue>();
      while (at < tokens.length && tokens[at] !== '}') {
        const key = tokens[at] ?? '';
        if (key.startsWith(':')) {
          at++;
          const next = tokens[at];
          fields.set(key.slice(1), next === undefined || next === '}' || next.startsWith(':') ? null : value());
        } else value(); // a stray value (e.g. `[ 1 0 0 0 ]` after a Const's length): skipped
      }
      at++;
      return { type, fields };
    }
    if (token === '(') {
      const items: NodeValue[] = [];
      while (at < tokens.length && tokens[at] !== ')') items.push(value());
      at++;
      return items;
    }
    return token === undefined || token === '<>' ? null : token;
  };
  return value();
}

const isNode = (v: NodeValue | undefined): v is TreeNode => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The output columns of a view's query that are a plain column of some relation. */
export function viewColumnOrigins(evAction: string): ColumnOrigin[] {
  let tree: NodeValue;
  try {
    tree = parse(tokenize(evAction));
  } catch {
    // Deeper than the stack (a generated view of thousands of nested expressions): that view keeps
    // no keys, rather than the schema cache, and with it every request, failing.
    return [];
  }
  const query = Array.isArray(tree) ? tree[0] : tree;
  if (!isNode(query) || query.type !== 'QUERY') return [];
  const targets = query.fields.get('targetList');
  if (!Array.isArray(targets)) return [];
  return targets.flatMap((entry) => {
    if (!isNode(entry) || entry.type !== 'TARGETENTRY' || entry.fields.get('resjunk') === 'true') return [];
    const column = Number(entry.fields.get('resno'));
    const relationOid = Number(entry.fields.get('resorigtbl'));
    const relationColumn = Number(entry.fields.get('resorigcol'));
    return Number.isInteger(column) && relationOid > 0 && relationColumn > 0
      ? [{ column, relationOid, relationColumn }]
      : [];
  });
}
