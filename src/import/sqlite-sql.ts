/**
 * Reading SQLite's own SQL text: a tokenizer, the CHECK constraints of a CREATE TABLE (SQLite's
 * pragmas do not list them) and the WHERE of a partial index. Pure: text in, values out.
 */

export type Token =
  | { readonly kind: 'ident'; readonly text: string; readonly quoted: boolean }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'number'; readonly text: string }
  | { readonly kind: 'blob'; readonly text: string }
  | { readonly kind: 'op'; readonly text: string };

const OPERATORS = [
  '<>',
  '<=',
  '>=',
  '==',
  '!=',
  '||',
  '<<',
  '>>',
  '(',
  ')',
  ',',
  '=',
  '<',
  '>',
  '+',
  '-',
  '*',
  '/',
  '%',
  '.',
  ';',
  '~',
  '&',
  '|',
];

/** Tokens of SQLite SQL text, comments dropped; undefined when the text does not tokenize (an open quote). */
export function tokenize(sql: string): Token[] | undefined {
  const tokens: Token[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    if (/\s/.test(c)) {
      i++;
    } else if (sql.startsWith('--', i)) {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (sql.startsWith('/*', i)) {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if ((c === 'x' || c === 'X') && sql[i + 1] === "'") {
      const read = readQuoted(sql, i + 1, "'");
      if (!read) return undefined;
      tokens.push({ kind: 'blob', text: read.text });
      i = read.end;
    } else if (c === "'") {
      const read = readQuoted(sql, i, "'");
      if (!read) return undefined;
      tokens.push({ kind: 'string', text: read.text });
      i = read.end;
    } else if (c === '"' || c === '`' || c === '[') {
      const read = readQuoted(sql, i, c === '[' ? ']' : c);
      if (!read) return undefined;
      tokens.push({ kind: 'ident', text: read.text, quoted: true });
      i = read.end;
    } else if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(sql[i + 1] ?? ''))) {
      const m = /^(0x[0-9a-f]+|(\d+\.?\d*|\.\d+)(e[+-]?\d+)?)/i.exec(sql.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'number', text: m[0] });
      i += m[0].length;
    } else if (/[\p{L}_$]/u.test(c)) {
      const m = /^[\p{L}\p{N}_$]+/u.exec(sql.slice(i)) as RegExpExecArray;
      tokens.push({ kind: 'ident', text: m[0], quoted: false });
      i += m[0].length;
    } else {
      const op = OPERATORS.find((o) => sql.startsWith(o, i));
      if (!op) return undefined;
      tokens.push({ kind: 'op', text: op });
      i += op.length;
    }
  }
  return tokens;
}

/** A quoted run starting at `start` (the opening quote); a doubled closing quote stands for itself. */
function readQuoted(sql: string, start: number, close: string): { text: string; end: number } | undefined {
  let text = '';
  let i = start + 1;
  for (;;) {
    const end = sql.indexOf(close, i);
    if (end < 0) return undefined;
    text += sql.slice(i, end);
    if (close !== ']' && sql[end + 1] === close) {
      text += close;
      i = end + 2;
    } else {
      return { text, end: end + 1 };
    }
  }
}

export const isWord = (t: Token | undefined, word: string): boolean =>
  t !== undefined && t.kind === 'ident' && !t.quoted && t.text.toLowerCase() === word;
export const isOp = (t: Token | undefined, op: string): boolean => t !== undefined && t.kind === 'op' && t.text === op;

/** Index just past the parenthesis that closes the one at `open`, or -1. */
function closeParen(tokens: readonly Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    if (isOp(tokens[i], '(')) depth++;
    else if (isOp(tokens[i], ')') && --depth === 0) return i + 1;
  }
  return -1;
}

/** Splits tokens at top-level commas. */
function splitTopLevel(tokens: readonly Token[]): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (isOp(t, '(')) depth++;
    if (isOp(t, ')')) depth--;
    if (depth === 0 && isOp(t, ',')) parts.push([]);
    else (parts[parts.length - 1] as Token[]).push(t);
  }
  return parts;
}

export interface ParsedCheck {
  /** The constraint's name when it had one (CONSTRAINT name CHECK …). */
  readonly name?: string;
  readonly tokens: readonly Token[];
  /** The column it was written on, for a column constraint. */
  readonly column?: string;
}

/** The CHECK constraints of a CREATE TABLE statement, column and table ones, in order. */
export function parseChecks(createTable: string): ParsedCheck[] {
  const tokens = tokenize(createTable);
  if (!tokens) return [];
  const open = tokens.findIndex((t) => isOp(t, '('));
  if (open < 0) return [];
  const close = closeParen(tokens, open);
  if (close < 0) return [];
  const checks: ParsedCheck[] = [];
  for (const part of splitTopLevel(tokens.slice(open + 1, close - 1))) {
    const first = part[0];
    const tableConstraint = ['constraint', 'check', 'primary', 'unique', 'foreign'].some((w) => isWord(first, w));
    const column = tableConstraint || first?.kind !== 'ident' ? undefined : first.text;
    for (let i = 0; i < part.length; i++) {
      if (!isWord(part[i], 'check') || !isOp(part[i + 1], '(')) continue;
      const end = closeParen(part, i + 1);
      if (end < 0) break;
      const named = isWord(part[i - 2], 'constraint') ? part[i - 1] : undefined;
      checks.push({
        ...(named && named.kind === 'ident' ? { name: named.text } : {}),
        tokens: part.slice(i + 2, end - 1),
        ...(column !== undefined ? { column } : {}),
      });
      i = end - 1;
    }
  }
  return checks;
}

/** The WHERE clause of a CREATE INDEX statement (a partial index), as tokens. */
export function parseIndexWhere(createIndex: string): Token[] | undefined {
  const tokens = tokenize(createIndex);
  if (!tokens) return undefined;
  let depth = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (isOp(tokens[i], '(')) depth++;
    if (isOp(tokens[i], ')')) depth--;
    if (depth === 0 && isWord(tokens[i], 'where')) {
      const rest = tokens.slice(i + 1);
      return isOp(rest[rest.length - 1], ';') ? rest.slice(0, -1) : rest;
    }
  }
  return undefined;
}

/** Tokens back to SQLite text, for messages. */
export function tokensText(tokens: readonly Token[]): string {
  return tokens
    .map((t) =>
      t.kind === 'string'
        ? `'${t.text.replaceAll("'", "''")}'`
        : t.kind === 'blob'
          ? `x'${t.text}'`
          : t.kind === 'ident' && t.quoted
            ? `"${t.text.replaceAll('"', '""')}"`
            : t.text,
    )
    .join(' ')
    .replace(/\( /g, '(')
    .replace(/ \)/g, ')')
    .replace(/ ,/g, ',');
}

/** SQLite's identifier quoting (the same doubled-quote rule as PostgreSQL's). */
export const sqliteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;
