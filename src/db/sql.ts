/**
 * The one quoting function: every identifier Trellis splices into SQL text goes through `ident`.
 * Values never do; they travel as parameters.
 */
import { ApiError } from '../errors.js';

/** Quotes an identifier: any name is safe, whatever characters it holds; NUL cannot reach PostgreSQL. */
export function ident(name: string): string {
  // Names come from the catalog or from a request (PostgREST's grammar); only the second can hold a
  // NUL, and PostgreSQL would refuse the whole statement for it, so it is the request's error.
  if (name.includes('\u0000')) throw new ApiError(400, 'PGRST100', 'identifiers cannot contain NUL characters');
  return `"${name.replaceAll('"', '""')}"`;
}
