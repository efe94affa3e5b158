/**
 * Splits a migration file into statements, as the Supabase CLI does, so that each statement can be
 * run and recorded on its own and a failure can name the line it starts on. A small lexer, not a
 * parser: it knows only what can hide a semicolon (quotes, dollar quotes, comments, BEGIN ATOMIC).
 */
export interface SqlStatement {
  /** The statement text without its terminating semicolon. */
  readonly text: string;
  /** 1-based line of the statement's first character in the file. */
  readonly line: number;
  /** 0-based offset of `text` in the file. */
  readonly offset: number;
}

const DOLLAR_TAG = /\$([A-Za-z_\u0080-\uffff][A-Za-z_0-9\u0080-\uffff]*)?\$/y;
const WORD = /[A-Za-z_][A-Za-z_0-9$]*/y;

export function splitSql(source: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let i = 0;
  // Inside `BEGIN ATOMIC … END` (SQL-standard function bodies) semicolons do not end the statement;
  // CASE … END nests inside it.
  let atomicDepth = 0;
  let previousWord = '';

  const push = (end: number) => {
    const raw = source.slice(start, end);
    const lead = leadingTrivia(raw);
    const text = raw.slice(lead).trimEnd();
    if (text !== '' && !isOnlyTrivia(text)) {
      const offset = start + lead;
      statements.push({ text, offset, line: lineAt(source, offset) });
    }
    start = end + 1;
  };

  while (i < source.length) {
    const c = source[i];
    const next = source[i + 1];
    if (c === '-' && next === '-') {
      const eol = source.indexOf('\n', i);
      i = eol === -1 ? source.length : eol + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(source, i);
    } else if (c === "'") {
      const backslashes = i > 0 && /[eE]/.test(source[i - 1] ?? '') && !/[A-Za-z_0-9]/.test(source[i - 2] ?? '');
      i = skipQuoted(source, i, "'", backslashes);
    } else if (c === '"') {
      i = skipQuoted(source, i, '"', false);
    } else if (c === '$' && !/[A-Za-z_0-9]/.test(source[i - 1] ?? '')) {
      DOLLAR_TAG.lastIndex = i;
      const tag = DOLLAR_TAG.exec(source);
      if (tag) {
        const close = source.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? source.length : close + tag[0].length;
      } else {
        i++;
      }
    } else if (/[A-Za-z_]/.test(c ?? '') && !/[A-Za-z_0-9$]/.test(source[i - 1] ?? '')) {
      WORD.lastIndex = i;
      const word = (WORD.exec(source)?.[0] ?? c ?? '').toLowerCase();
      if (word === 'atomic' && previousWord === 'begin') atomicDepth++;
      else if (word === 'case' && atomicDepth > 0) atomicDepth++;
      else if (word === 'end' && atomicDepth > 0) atomicDepth--;
      previousWord = word;
      i += word.length;
    } else if (c === ';' && atomicDepth === 0) {
      push(i);
      i++;
    } else {
      i++;
    }
  }
  push(source.length);
  return statements;
}

/** 1-based line number of a 0-based offset. */
export function lineAt(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < source.length; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

function skipQuoted(source: string, i: number, quote: string, backslashes: boolean): number {
  let j = i + 1;
  while (j < source.length) {
    const c = source[j];
    if (backslashes && c === '\\') j += 2;
    else if (c === quote && source[j + 1] === quote) j += 2;
    else if (c === quote) return j + 1;
    else j++;
  }
  return source.length;
}

function skipBlockComment(source: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < source.length) {
    if (source[j] === '/' && source[j + 1] === '*') {
      depth++;
      j += 2;
    } else if (source[j] === '*' && source[j + 1] === '/') {
      depth--;
      j += 2;
      if (depth === 0) return j;
    } else {
      j++;
    }
  }
  return source.length;
}

/** Length of the whitespace and comments before the first token. */
function leadingTrivia(text: string): number {
  let i = 0;
  for (;;) {
    while (i < text.length && /\s/.test(text[i] ?? '')) i++;
    if (text.startsWith('--', i)) {
      const eol = text.indexOf('\n', i);
      i = eol === -1 ? text.length : eol + 1;
    } else if (text.startsWith('/*', i)) {
      i = skipBlockComment(text, i);
    } else {
      return i;
    }
  }
}

function isOnlyTrivia(text: string): boolean {
  return leadingTrivia(text) >= text.length;
}
