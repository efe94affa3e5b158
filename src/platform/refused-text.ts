/**
 * The one net under every module for text PostgreSQL cannot hold: NUL in text (SQLSTATE 22021,
 * "invalid byte sequence for encoding UTF8: 0x00") or `\u0000` in jsonb (22P05, "unsupported
 * Unicode escape sequence"). Such text can only have come from the request, so it is the client's
 * 400, not a 500. Each module refuses NUL where it parses a request, naming the field; this
 * catches what a parser missed, in the code word of the endpoint's family.
 */
import { ApiError } from '../errors.js';

const REFUSED_TEXT = new Set(['22021', '22P05']);

/** `err` as the client's 400 when it is PostgreSQL refusing the request's text; else undefined. */
export function refusedText(err: unknown, path: string): ApiError | undefined {
  // An ApiError was already worded by its module (PostgREST's carries the SQLSTATE as its code).
  if (err instanceof ApiError) return undefined;
  const code = (err as { code?: unknown } | null)?.code;
  if (!(err instanceof Error) || typeof code !== 'string' || !REFUSED_TEXT.has(code)) return undefined;
  const message = 'The request must not contain the NUL character (\\u0000)';
  if (path.startsWith('/storage/v1'))
    return new ApiError(400, 'InvalidRequest', message, { fields: { code: 'InvalidRequest' } });
  if (path.startsWith('/auth/v1')) return new ApiError(400, 'validation_failed', message);
  // PostgREST (and Realtime's API, which answers in the same shape here) name the SQLSTATE.
  return new ApiError(400, code, message, { details: err.message });
}
