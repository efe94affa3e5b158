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

// A cast target is spliced as a type name, so only type-name characters are allowed:
// `text`, `int[]`, `timestamp with time zone`, `numeric(10,2)`, `public.mood`, `"My Type"`.
const TYPE_NAME = /^(?:"[^"\0]+"|[A-Za-z_][A-Za-z0-9_]*)(?:\.(?:"[^"\0]+"|[A-Za-z_][A-Za-z0-9_]*))?(?:\s+[A-Za-z_][A-Za-z0-9_]*)*(?:\(\s*\d+\s*(?:,\s*\d+\s*)?\))?(?:\[\])*$/;

export function castType(type: string): string {
  const trimmed = type.trim();
  if (!TYPE_NAME.test(trimmed) || trimmed.length > 100) {
    throw new ApiError(400, 'PGRST100', `"${type.slice(0, 100)}" is not a valid type name for a cast`);
  }
  return trimmed;
}
