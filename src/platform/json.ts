/**
 * JSON that keeps numbers as they were written. `JSON.parse` turns 1234567890123456789 into
 * 1234567890123456800, 1.50 into 1.5 and 1e400 into Infinity (then null), so a body stored through
 * it is silently another value: another bigint key, another numeric scale. PostgREST hands
 * PostgreSQL the JSON text as it came; Trellis parses it, so it parses losslessly.
 *
 * Fast path: when every number in the text reads back the same through a double (the common case),
 * it is plain `JSON.parse`. Otherwise lossless-json parses it, and each number that would change is
 * a `LosslessNumber` holding its text, which `stringifyJson` writes back verbatim.
 */
import { isLosslessNumber, LosslessNumber, parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

export { isLosslessNumber, LosslessNumber };

// A JSON string (skipped) or a number token. Only valid JSON reaches it (JSON.parse ran first).
const TOKENS = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** True when JSON.parse would give back every number of `text` exactly as written. */
function numbersRoundTrip(text: string): boolean {
  for (const [token] of text.matchAll(TOKENS)) {
    if (token.charCodeAt(0) !== 34 /* " */ && String(Number(token)) !== token) return false;
  }
  return true;
}

const exactOrLossless = (text: string): number | LosslessNumber => (String(Number(text)) === text ? Number(text) : new LosslessNumber(text));

/** Parses JSON text; throws SyntaxError as JSON.parse does (also for a duplicate key whose numbers needed the lossless path). */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (numbersRoundTrip(text)) return value;
  try {
    return parseLossless(text, null, exactOrLossless);
  } catch (err) {
    throw new SyntaxError(err instanceof Error ? err.message : String(err));
  }
}

/** JSON.stringify that writes a LosslessNumber as its original text. */
export function stringifyJson(value: unknown): string {
  // Plain values (no LosslessNumber inside) take JSON.stringify's speed.
  return containsLossless(value) ? (stringifyLossless(value) ?? 'null') : JSON.stringify(value);
}

function containsLossless(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object' || depth > 1000) return false;
  if (isLosslessNumber(value)) return true;
  if (Array.isArray(value)) return value.some((v) => containsLossless(v, depth + 1));
  for (const key in value) if (containsLossless((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}
