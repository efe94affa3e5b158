/**
 * How the planners build SQL text from values and type names: numbered parameters, and cast types
 * checked to be exactly one type name. Identifiers go through the database's one quoting function
 * (`ident` in db/sql.ts).
 */
import { ApiError } from '../errors.js';

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
