/** `select=`: columns, casts, JSON paths, aggregates, `count()`, and embedded resources. */
import type { SelectColumn, SelectEmbed, SelectItem } from './ast.js';
import {
  END,
  MAX_DEPTH,
  fieldName,
  identifier,
  isQuotedAt,
  jsonPath,
  run,
  token,
  type Cursor,
} from './parse-grammar.js';

const AGGREGATE = /\.(sum|avg|count|max|min)\(\)/y;

// ---------------------------------------------------------------------------------------------
// select

function selectList(c: Cursor, depth: number): SelectItem[] {
  const items: SelectItem[] = [];
  c.skipSpaces();
  if (c.done || c.peek() === ')') return items;
  for (;;) {
    items.push(selectItem(c, depth));
    c.skipSpaces();
    if (!c.eat(',')) return items;
    c.skipSpaces();
  }
}

function selectItem(c: Cursor, depth: number): SelectItem {
  if (c.eat('...')) return embed(c, depth, fieldName(c), undefined, true);
  if (c.eat('*')) {
    endOfItem(c);
    return { kind: 'star' };
  }
  if (c.startsWith('count()')) return rowCount(c, undefined);
  let nameAt = c.pos;
  let name = fieldName(c);
  let alias: string | undefined;
  if (c.peek() === ':' && c.peek(1) !== ':') {
    c.pos++;
    c.skipSpaces();
    alias = name;
    if (c.startsWith('count()')) return rowCount(c, alias);
    nameAt = c.pos;
    name = fieldName(c);
  }
  const afterName = c.pos;
  c.skipSpaces();
  // `count(...)` is never a relation (PostgREST's guard), so `count(x)` fails as a column below.
  const isCount = name === 'count' && !isQuotedAt(c, nameAt);
  if (c.peek() === '!' || (c.peek() === '(' && !isCount)) return embed(c, depth, name, alias, false);
  c.pos = afterName;
  return column(c, name, alias);
}

function column(c: Cursor, name: string, alias: string | undefined): SelectColumn {
  const path = jsonPath(c);
  c.skipSpaces();
  const cast = c.eat('::') ? identifier(c) : undefined;
  const aggregate = c.match(AGGREGATE)?.slice(1, -2) as SelectColumn['aggregate'];
  const aggregateCast = aggregate !== undefined && c.eat('::') ? identifier(c) : undefined;
  endOfItem(c, ...(cast === undefined ? [token('::')] : []), ...(aggregate === undefined ? [token('.')] : []));
  return {
    kind: 'column',
    field: { name, jsonPath: path },
    ...(alias !== undefined && { alias }),
    ...(cast !== undefined && { cast }),
    ...(aggregate !== undefined && { aggregate }),
    ...(aggregateCast !== undefined && { aggregateCast }),
  };
}

function rowCount(c: Cursor, alias: string | undefined): SelectItem {
  c.pos += 'count()'.length;
  const cast = c.eat('::') ? identifier(c) : undefined;
  endOfItem(c);
  return { kind: 'count', ...(alias !== undefined && { alias }), ...(cast !== undefined && { cast }) };
}

function endOfItem(c: Cursor, ...alternatives: string[]): void {
  c.skipSpaces();
  if (!c.done && c.peek() !== ',' && c.peek() !== ')') c.fail([...alternatives, token(','), token(')'), END]);
}

/** `relation!hint!inner(select…)`: at most one hint and one join type, in either order. */
function embed(c: Cursor, depth: number, relation: string, alias: string | undefined, spread: boolean): SelectEmbed {
  let hint: string | undefined;
  let joinType: 'inner' | 'left' | undefined;
  while (c.peek() === '!') {
    const at = ++c.pos;
    const param = fieldName(c);
    if (!isQuotedAt(c, at) && (param === 'inner' || param === 'left')) {
      if (joinType !== undefined) c.failWith('an embedded resource takes one join type (!inner or !left)', at);
      joinType = param;
    } else {
      if (hint !== undefined) c.failWith('an embedded resource takes one hint (!fk_name)', at);
      hint = param;
    }
  }
  c.skipSpaces();
  c.expect('(');
  if (depth >= MAX_DEPTH) c.failWith(`embedded resources nest deeper than ${MAX_DEPTH} levels`);
  const select = selectList(c, depth + 1);
  c.skipSpaces();
  c.expect(')', token(','));
  return {
    kind: 'embed',
    relation,
    ...(alias !== undefined && { alias }),
    ...(hint !== undefined && { hint }),
    ...(joinType !== undefined && { joinType }),
    spread,
    select,
  };
}

/** `select=`: an empty text selects everything, the caller's default too. */
export function parseSelect(text: string): SelectItem[] {
  if (text.trim() === '') return [{ kind: 'star' }];
  return run(`failed to parse select parameter (${text})`, text, (c) => {
    const items = selectList(c, 0);
    c.expectEnd(token(','));
    return items;
  });
}
