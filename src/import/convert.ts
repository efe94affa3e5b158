/**
 * A SQLite value (better-sqlite3: bigint or number, string, Buffer, null) → the
 * value COPY writes for the planned PostgreSQL column. Pure. The import's session runs in UTC, so
 * a zone-less date-time (SQLite's CURRENT_TIMESTAMP) is read as the UTC it is.
 */
import type { Conversion } from './sqlite-types.js';

type Convert = (value: unknown) => unknown;

const asText = (v: unknown): unknown =>
  typeof v === 'string' || v === null
    ? v
    : Buffer.isBuffer(v)
      ? `\\x${v.toString('hex')}`
      : typeof v === 'number'
        ? sqliteReal(v)
        : (v as bigint).toString();

/** Reals as SQLite prints them (1.0, not 1), so a text column keeps what the app saw. */
function sqliteReal(v: number): string {
  return Number.isInteger(v) && Math.abs(v) < 1e15 ? `${v}.0` : String(v);
}

const CONVERT: Record<Conversion, Convert> = {
  bigint: (v) => v,
  double: (v) => v,
  numeric: (v) => (typeof v === 'number' ? String(v) : v),
  boolean: (v) => (v === null ? null : typeof v === 'string' ? v.toLowerCase() === 'true' : v === 1n || v === 1),
  timestamptz: (v) => (typeof v === 'bigint' || typeof v === 'number' ? new Date(Number(v) * 1000) : v),
  date: (v) => v,
  jsonb: (v) => v,
  uuid: (v) => (typeof v === 'string' ? v.toLowerCase() : v),
  text: asText,
  bytea: (v) => (typeof v === 'string' ? Buffer.from(v, 'utf8') : v),
};

export function converter(convert: Conversion): Convert {
  return CONVERT[convert];
}
