/**
 * The parts of the PostgREST query grammar every parameter shares: a cursor over one parameter's
 * text, parsec-style failures (PostgREST's 400 PGRST100 body), and names, JSON paths and fields.
 */
import { ApiError } from '../errors.js';
import type { EmbedPath, Field, JsonPathStep } from './ast.js';

/** Embeds and and/or groups nest at most this deep: enough for any real query, and recursion stays bounded. */
export const MAX_DEPTH = 32;

const FIELD_NAME = 'field name (* or [a..z0..9_$])';
const JSON_KEY = 'any non reserved character different from: .,>()';
export const DELIMITER = 'delimiter (.)';
export const END = 'end of input';

// Unquoted names: letters (any script), ASCII digits, `_`, `$` and inner spaces (trimmed), joined by
// `-` when it does not start an arrow. Quoted names take anything, with backslash escapes.
const IDENTIFIER = /[\p{L}0-9_ $]+/uy;
const JSON_KEY_PART = /[^(\-:.,>)]+/y;
const QUOTED_BODY = /[^"\\]*(?:\\[\s\S][^"\\]*)*/y;
const DIGITS = /[0-9]+/y;

// ---------------------------------------------------------------------------------------------
// Cursor and failures

/** Internal: where parsing stopped and what would have been accepted there. Becomes an ApiError. */
export class ParseFailure {
  constructor(
    readonly pos: number,
    readonly expected: readonly string[],
    readonly details?: string,
    readonly hint?: string,
  ) {}
}

export class Cursor {
  pos = 0;
  constructor(readonly text: string) {}

  get done(): boolean {
    return this.pos >= this.text.length;
  }
  peek(offset = 0): string {
    return this.text.charAt(this.pos + offset);
  }
  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }
  eat(s: string): boolean {
    if (!this.startsWith(s)) return false;
    this.pos += s.length;
    return true;
  }
  expect(s: string, ...alternatives: string[]): void {
    if (!this.eat(s)) this.fail([token(s), ...alternatives]);
  }
  /** The `.` between a column, an operator and its value. */
  delimiter(...alternatives: string[]): void {
    if (!this.eat('.')) this.fail([...alternatives, DELIMITER]);
  }
  /** Matches a sticky regular expression here and moves past it. */
  match(re: RegExp): string | undefined {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null) return undefined;
    this.pos += m[0].length;
    return m[0];
  }
  skipSpaces(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.pos++;
  }
  expectEnd(...alternatives: string[]): void {
    this.skipSpaces();
    if (!this.done) this.fail([...alternatives, END]);
  }
  fail(expected: readonly string[], at = this.pos): never {
    throw new ParseFailure(at, expected);
  }
  failWith(details: string, at = this.pos): never {
    throw new ParseFailure(at, [], details);
  }
}

export const token = (s: string): string => JSON.stringify(s);

/** Parsec merges two failed alternatives by keeping the one that got further. */
export function furthest(a: ParseFailure, b: ParseFailure): ParseFailure {
  if (a.pos !== b.pos) return a.pos > b.pos ? a : b;
  return new ParseFailure(a.pos, [...a.expected, ...b.expected], a.details ?? b.details, a.hint ?? b.hint);
}

export function attempt<T>(c: Cursor, parse: () => T): T | ParseFailure {
  const start = c.pos;
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ParseFailure)) throw err;
    c.pos = start;
    return err;
  }
}

/** Runs one parser over one parameter and turns a failure into PostgREST's PGRST100 body. */
export function run<T>(label: string, text: string, parse: (c: Cursor) => T): T {
  const c = new Cursor(text);
  try {
    return parse(c);
  } catch (err) {
    if (!(err instanceof ParseFailure)) throw err;
    throw parseError(label, text, err.pos, err.details ?? describe(text, err), err.hint);
  }
}

export function parseError(label: string, text: string, pos: number, details: string, hint?: string): ApiError {
  const { line, column } = position(text, pos);
  return new ApiError(400, 'PGRST100', `${JSON.stringify(label)} (line ${line}, column ${column})`, {
    details,
    hint: hint ?? null,
  });
}

/** Parsec's position: code points, tabs to the next multiple of 8, newlines start a line. */
function position(text: string, pos: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (const ch of text.slice(0, pos)) {
    if (ch === '\n') [line, column] = [line + 1, 1];
    else if (ch === '\t') column += 8 - ((column - 1) % 8);
    else column++;
  }
  return { line, column };
}

export function describe(text: string, failure: ParseFailure): string {
  const cp = text.codePointAt(failure.pos);
  const unexpected = cp === undefined ? END : JSON.stringify(String.fromCodePoint(cp));
  const expected = [...new Set(failure.expected)];
  if (expected.length === 0) return `unexpected ${unexpected}`;
  const list = expected.length === 1 ? expected[0] : `${expected.slice(0, -1).join(', ')} or ${expected.at(-1)}`;
  return `unexpected ${unexpected} expecting ${list}`;
}

// ---------------------------------------------------------------------------------------------
// Names and fields

export function quoted(c: Cursor): string {
  c.expect('"');
  const body = c.match(QUOTED_BODY) ?? '';
  c.expect('"');
  return body.replace(/\\([\s\S])/g, '$1');
}

/** `part(-part)*`, where `-` does not start `->`; each part trimmed, as PostgREST's T.strip. */
function dashed(c: Cursor, part: RegExp, expected: string): string {
  const parts: string[] = [];
  for (;;) {
    const m = c.match(part);
    if (m === undefined) c.fail([expected]);
    parts.push(m.trim());
    if (c.peek() !== '-' || c.peek(1) === '>') return parts.join('-');
    c.pos++;
  }
}

/** A column, relation, alias or hint name. Never empty, never with a NUL: the planner quotes it as an identifier. */
export function fieldName(c: Cursor): string {
  const start = c.pos;
  const name = c.peek() === '"' ? quoted(c) : dashed(c, IDENTIFIER, FIELD_NAME);
  if (name === '') c.failWith('unexpected empty name expecting ' + FIELD_NAME, start);
  if (name.includes('\0')) c.failWith('unexpected NUL character in a name', start);
  return name;
}

export function isQuotedAt(c: Cursor, pos: number): boolean {
  return c.text.charAt(pos) === '"';
}

/** A cast or full-text configuration: PostgREST's pIdentifier (letters, digits, `_`, `$`, spaces). */
export function identifier(c: Cursor): string {
  const start = c.pos;
  const name = c.match(IDENTIFIER)?.trim();
  if (!name) c.fail(['letter or digit'], start);
  return name;
}

export function jsonPath(c: Cursor): JsonPathStep[] {
  const steps: JsonPathStep[] = [];
  while (c.startsWith('->')) {
    const arrow = c.startsWith('->>') ? '->>' : '->';
    c.pos += arrow.length;
    steps.push({ arrow, key: jsonOperand(c) });
  }
  return steps;
}

/** An array index (`->0`, `->-1`) when only digits stand before the next token; a key otherwise. */
function jsonOperand(c: Cursor): string | number {
  const start = c.pos;
  const negative = c.eat('-');
  const digits = c.match(DIGITS);
  if (negative && digits === undefined) c.fail(['digit']);
  if (digits !== undefined && atIndexEnd(c)) {
    const index = Number(digits);
    if (!Number.isSafeInteger(index)) c.failWith('JSON array index out of range', start);
    return negative && index !== 0 ? -index : index;
  }
  if (negative) c.fail(['digit', token('->'), token('::'), token('.'), token(','), END]);
  c.pos = start;
  const key = c.peek() === '"' ? quoted(c) : dashed(c, JSON_KEY_PART, JSON_KEY);
  if (key.includes('\0')) c.failWith('unexpected NUL character in a JSON key', start);
  return key;
}

function atIndexEnd(c: Cursor): boolean {
  return c.done || c.startsWith('->') || c.startsWith('::') || ['.', ',', ')', ' ', '\t'].includes(c.peek());
}

export function field(c: Cursor): Field {
  c.skipSpaces();
  const name = fieldName(c);
  const path = jsonPath(c);
  c.skipSpaces();
  return { name, jsonPath: path };
}

/** A filter/order/limit key: `embed.embed.column->json`, the embed path being every segment but the last. */
export function treePath(c: Cursor): { path: EmbedPath; field: Field } {
  const segments = [fieldName(c)];
  while (c.eat('.')) segments.push(fieldName(c));
  const path = jsonPath(c);
  c.expectEnd(DELIMITER, token('->'));
  return { path: segments.slice(0, -1), field: { name: segments.at(-1) as string, jsonPath: path } };
}
