/**
 * JSON that keeps numbers as they were written. `JSON.parse` turns 1234567890123456789 into
 * 1234567890123456800, 1.50 into 1.5 and 1e400 into Infinity (then null), so a body stored through
 * it is silently another value: another bigint key, another numeric scale. PostgREST hands
 * PostgreSQL the JSON text as it came; Trellis parses it, so it parses losslessly.
 *
 * Fast path: when every number in the text reads back the same through a double (the common case),
 * it is plain `JSON.parse`. Otherwise lossless-json parses it, and each number that would change is
 * a `JsonNumber` holding its text, which `stringifyJson` writes back verbatim. Plain
 * `JSON.stringify` (pg parameters, Hono's c.json, jose) writes a JsonNumber verbatim too where the
 * runtime has `JSON.rawJSON` (Node.js 21+); on Node.js 20 it writes the nearest double, so every
 * path that stores or answers user JSON calls `stringifyJson`.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { parse as parseLossless, stringify as stringifyLossless } from 'lossless-json';

const rawJSON = (JSON as { rawJSON?: (text: string) => unknown }).rawJSON;

// Set when JSON.stringify met a JsonNumber it could only write as a double (no JSON.rawJSON).
let roundedOne = false;

/** A JSON number that a double would change, kept as its text. */
export class JsonNumber {
  constructor(readonly text: string) {}
  toJSON(): unknown {
    if (rawJSON) return rawJSON(this.text);
    roundedOne = true;
    return Number(this.text);
  }
  valueOf(): number {
    return Number(this.text);
  }
  toString(): string {
    return this.text;
  }
}

// A JSON string (skipped) or a number token. Only valid JSON reaches it (JSON.parse ran first).
const TOKENS = /"(?:[^"\\]|\\.)*"|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/** True when JSON.parse would give back every number of `text` exactly as written. */
function numbersRoundTrip(text: string): boolean {
  // exec in a loop: half the time of matchAll on a bulk insert of 10,000 rows.
  TOKENS.lastIndex = 0;
  for (let match = TOKENS.exec(text); match !== null; match = TOKENS.exec(text)) {
    const token = match[0];
    if (token.charCodeAt(0) !== 34 /* " */ && String(Number(token)) !== token) return false;
  }
  return true;
}

/** A number's text as a plain number when a double holds it exactly as written, else kept. */
export const jsonNumber = (text: string): number | JsonNumber =>
  String(Number(text)) === text ? Number(text) : new JsonNumber(text);
const VERBATIM = [{ test: (v: unknown) => v instanceof JsonNumber, stringify: (v: unknown) => (v as JsonNumber).text }];

/** Parses JSON text; throws SyntaxError as JSON.parse does (and for a duplicate key on the lossless path). */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (numbersRoundTrip(text)) return value;
  try {
    return parseLossless(text, null, jsonNumber);
  } catch (err) {
    throw new SyntaxError(err instanceof Error ? err.message : String(err));
  }
}

/** A JSON object (not an array, not a kept number). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof JsonNumber);
}

/** JSON.stringify that writes a JsonNumber as its original text, on every runtime. */
export function stringifyJson(value: unknown): string {
  // One JSON.stringify pass; only a value that held a kept number is written again, losslessly.
  roundedOne = false;
  const text = JSON.stringify(value);
  return roundedOne ? (stringifyLossless(value, undefined, undefined, VERBATIM) ?? 'null') : text;
}

/** A JSON response written by stringifyJson (Hono's c.json uses JSON.stringify). */
export function respondJson(c: Context, value: unknown, status: ContentfulStatusCode = 200): Response {
  return c.body(stringifyJson(value), status, { 'content-type': 'application/json' });
}
