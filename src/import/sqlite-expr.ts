/**
 * SQLite expressions (CHECK constraints, partial index WHERE clauses) to PostgreSQL, when they are
 * simple: column references, literals, comparisons, AND/OR/NOT, IS [NOT] NULL, IN, BETWEEN, LIKE
 * and a few functions both databases share. Anything else is refused with the word that stopped it,
 * so the caller can drop the constraint and say why. Pure.
 */
import { ident } from '../db/index.js';
import { isOp, isWord, tokensText, type Token } from './sqlite-sql.js';

export type Translation = { readonly sql: string } | { readonly error: string };

const KEYWORDS = new Set(['and', 'or', 'not', 'null', 'in', 'between', 'true', 'false', 'is']);
/** SQLite function → PostgreSQL function of the same meaning on text and numbers. */
const FUNCTIONS: Record<string, string> = {
  length: 'char_length',
  lower: 'lower',
  upper: 'upper',
  trim: 'btrim',
  ltrim: 'ltrim',
  rtrim: 'rtrim',
  abs: 'abs',
  coalesce: 'coalesce',
  ifnull: 'coalesce',
};
const OPERATORS: Record<string, string> = {
  '=': '=',
  '==': '=',
  '!=': '<>',
  '<>': '<>',
  '<': '<',
  '<=': '<=',
  '>': '>',
  '>=': '>=',
  '+': '+',
  '-': '-',
  '*': '*',
  '/': '/',
  '%': '%',
  '||': '||',
  '(': '(',
  ')': ')',
  ',': ',',
};
const EQUALITY = new Set(['=', '==', '!=', '<>']);

/**
 * `columns` maps each column name (as SQLite spells it; matched case-insensitively, as SQLite does)
 * to its PostgreSQL type, so that `active = 1` on a column that became boolean reads `active = true`.
 */
export function translateExpression(tokens: readonly Token[], columns: ReadonlyMap<string, string>): Translation {
  const byLower = new Map([...columns].map(([name, type]) => [name.toLowerCase(), { name, type }]));
  const out: string[] = [];
  const refuse = (t: Token, why: string): Translation => ({
    error: `${why} "${t.kind === 'ident' ? t.text : tokensText([t])}"`,
  });
  if (tokens.length === 0) return { error: 'an empty expression' };
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    const next = tokens[i + 1];
    if (t.kind === 'ident') {
      const lower = t.text.toLowerCase();
      if (!t.quoted && isOp(next, '(') && !KEYWORDS.has(lower)) {
        const fn = FUNCTIONS[lower];
        if (!fn) return refuse(t, 'the function');
        out.push(`${fn}(`);
        i++;
        continue;
      }
      const column = byLower.get(lower);
      if (column && !(isOp(tokens[i - 1], '.') || isOp(next, '.'))) {
        out.push(ident(column.name));
        // SQLite stores booleans as 0/1; PostgreSQL compares a boolean only with a boolean.
        const literal = tokens[i + 2];
        if (column.type === 'boolean' && next?.kind === 'op' && EQUALITY.has(next.text) && literal?.kind === 'number') {
          if (literal.text !== '0' && literal.text !== '1') return refuse(literal, 'a boolean compared with');
          out.push(OPERATORS[next.text] as string, literal.text === '1' ? 'true' : 'false');
          i += 2;
        }
        continue;
      }
      if (t.quoted) return refuse(t, 'the unknown column');
      if (lower === 'like') {
        // SQLite's LIKE ignores ASCII case by default; PostgreSQL's does not.
        out.push('ilike');
        continue;
      }
      if (lower === 'is') {
        const negated = isWord(next, 'not');
        const after = tokens[i + (negated ? 2 : 1)];
        if (isWord(after, 'null')) {
          out.push(negated ? 'is not null' : 'is null');
        } else {
          out.push(negated ? 'is distinct from' : 'is not distinct from');
          if (negated) i++;
          continue;
        }
        i += negated ? 2 : 1;
        continue;
      }
      if (!KEYWORDS.has(lower)) return refuse(t, 'the unknown name');
      out.push(lower);
    } else if (t.kind === 'string') {
      if (t.text.includes('\u0000')) return refuse(t, 'a NUL character in');
      out.push(`'${t.text.replaceAll("'", "''")}'`);
    } else if (t.kind === 'number') {
      if (/^0x/i.test(t.text)) return refuse(t, 'the hexadecimal number');
      out.push(t.text);
    } else if (t.kind === 'blob') {
      return refuse(t, 'the blob literal');
    } else {
      const op = OPERATORS[t.text];
      if (!op) return refuse(t, 'the operator');
      out.push(op);
    }
  }
  return { sql: joinSql(out) };
}

/** Pieces joined by spaces, none after an opening parenthesis or before a closing one or a comma
 *  (by piece, never inside one, so a string literal keeps its spaces). */
function joinSql(pieces: readonly string[]): string {
  let sql = '';
  for (const piece of pieces) {
    const tight = sql === '' || sql.endsWith('(') || piece === ')' || piece === ',';
    sql += tight ? piece : ` ${piece}`;
  }
  return sql;
}
