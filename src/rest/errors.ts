/** PostgreSQL errors as PostgREST reports them: its status for each SQLSTATE, its body shape. */
import { classifyOutage, type PgError } from '../db/index.js';
import { ApiError } from '../errors.js';
import { outageError } from '../platform/http.js';

/** PostgREST's mapping (src/PostgREST/Error.hs, pgErrorStatus). */
export function pgStatus(code: string, role: string): number {
  if (code === '42501') return role === 'anon' ? 401 : 403;
  if (code === '23503' || code === '23505') return 409;
  if (code === '42883' || code === '42P01') return 404;
  if (code === '25006') return 405;
  if (code === 'P0001') return 400;
  if (code === '42P17') return 500;
  // PostgREST answers 500; a statement timeout is an expected condition, not a bug (docs/reliability.md).
  if (code === '57014') return 504;
  if (code === '57P01' || code === '57P03') return 503;
  if (code === '53400') return 500;
  const cls = code.slice(0, 2);
  if (cls === '08' || cls === '53') return 503;
  if (cls === '0L' || cls === '0P' || cls === '28') return 403;
  if (cls === '54') return 413;
  if (['09', '25', '2D', '38', '39', '3B', '40', '55', '57', '58', 'F0', 'HV', 'P0', 'XX'].includes(cls)) return 500;
  return 400;
}

export function fromPgError(err: PgError, role: string): ApiError {
  // An outage (08, 53, 57P01, 57014, …) is answered the way every family answers it, Retry-After included.
  const outage = classifyOutage(err);
  if (outage) return outageError('rest', outage);
  const code = err.code ?? 'XX000';
  return new ApiError(pgStatus(code, role), code, err.message ?? 'database error', {
    details: err.detail ?? null,
    hint: err.hint ?? null,
  });
}

/** Prefer: max-affected=n with handling=strict, over n rows: PostgREST's 400, the work rolled back. */
export function maxAffectedViolation(affected: number): ApiError {
  return new ApiError(400, 'PGRST124', 'Query result exceeds max-affected preference constraint', {
    details: `The query affects ${affected} rows`,
    hint: null,
  });
}
