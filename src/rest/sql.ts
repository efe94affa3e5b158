/** The only way SQL text is built from names and values: one quoting function, numbered parameters. */
import { ApiError } from '../errors.js';

/** Quotes an identifier: any name is safe, whatever characters it holds. */
export function ident(name: string): string {
  if (name.includes('\u0000')) throw new ApiError(400, 'PGRST100', 'identifiers cannot contain NUL characters');
  return `"${name.replaceAll('"', '""')}"`;
}

/** Collects values and hands out their placeholders. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

// A cast target is spliced into SQL as a type name, so it must be exactly one: a word, optionally
// schema-qualified, with an optional (n) or (n,m) modifier and [] suffixes; or one of SQL's
// multi-word type names. Nothing with a space can pass otherwise (`text from t union select …`).
const WORD = '[A-Za-z_][A-Za-z0-9_]*';
const MODIFIERS = '(?:\\(\\s*\\d+\\s*(?:,\\s*\\d+\\s*)?\\))?(?:\\[\\])*';
const SINGLE_WORD_TYPE = new RegExp(`^(?:${WORD}\\.)?${WORD}${MODIFIERS}$`);
const MULTI_WORD_TYPE = new RegExp(
  `^(?:double precision|character varying|bit varying|(?:timestamp|time)(?:\\s*\\(\\s*\\d+\\s*\\))? with(?:out)? time zone)${MODIFIERS}$`,
  'i',
);

export function castType(type: string): string {
  const trimmed = type.trim().replace(/\s+/g, ' ');
  if (trimmed.length > 100 || !(SINGLE_WORD_TYPE.test(trimmed) || MULTI_WORD_TYPE.test(trimmed))) {
    throw new ApiError(400, 'PGRST100', `"${type.slice(0, 100)}" is not a valid type name for a cast`);
  }
  return trimmed;
}
