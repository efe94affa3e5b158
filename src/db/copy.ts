/**
 * Bulk data in and out by COPY: the one way Trellis moves many rows (imports, moves). Rows are
 * encoded in COPY's text format and written in batches, so a million rows are a few hundred writes
 * on one statement, not a million round trips. The clients must be plain `pg.Client`s: the pool's
 * connections run in pipeline mode, which COPY cannot use.
 */
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { ident } from './sql.js';
import type { TableRef } from './table-digest.js';

const BATCH_BYTES = 64 * 1024;

/** A value COPY's text format cannot carry; the caller names the row and column. */
export class CopyValueError extends Error {}

/**
 * One row in COPY text format, newline included: NULL as \N; backslash, tab, newline and carriage
 * return escaped; bytes as bytea hex; dates as ISO-8601; booleans t/f; plain objects and arrays as
 * JSON text.
 */
export function copyTextRow(values: readonly unknown[]): string {
  let line = '';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) line += '\t';
    line += copyTextValue(values[i], i);
  }
  return `${line}\n`;
}

function copyTextValue(value: unknown, column: number): string {
  if (value === null || value === undefined) return '\\N';
  if (typeof value === 'string') return escapeText(value, column);
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return 'NaN';
    if (!Number.isFinite(value)) return value > 0 ? 'Infinity' : '-Infinity';
    return String(value);
  }
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'boolean') return value ? 't' : 'f';
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new CopyValueError(`column ${column + 1}: an invalid date`);
    return value.toISOString();
  }
  // bytea's hex input form; the backslash itself is escaped for COPY.
  if (value instanceof Uint8Array)
    return `\\\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
  return escapeText(JSON.stringify(value), column);
}

function escapeText(text: string, column: number): string {
  if (text.includes('\u0000'))
    throw new CopyValueError(`column ${column + 1}: text holds a NUL character, which PostgreSQL text cannot store`);
  if (!/[\\\t\n\r]/.test(text)) return text;
  return text.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * Streams rows into schema.table(columns) with COPY FROM STDIN, in writes of about 64 KiB;
 * `onRows(n)` after each. Returns the number of rows. A value COPY cannot carry rejects with a
 * CopyValueError naming the row (1-based) and column; PostgreSQL's own errors carry "line N".
 */
export async function copyRowsIn(
  client: pg.ClientBase,
  table: TableRef,
  columns: readonly string[],
  rows: Iterable<readonly unknown[]> | AsyncIterable<readonly unknown[]>,
  onRows?: (n: number) => void,
): Promise<number> {
  const sink = client.query(copyFrom(`copy ${qualified(table)} (${columns.map(ident).join(', ')}) from stdin`));
  let count = 0;
  async function* batches(): AsyncGenerator<string> {
    let batch = '';
    let inBatch = 0;
    for await (const row of rows) {
      try {
        batch += copyTextRow(row);
      } catch (err) {
        if (err instanceof CopyValueError) throw new CopyValueError(`row ${count + 1}, ${err.message}`);
        throw err;
      }
      count++;
      inBatch++;
      if (batch.length >= BATCH_BYTES) {
        yield batch;
        onRows?.(inBatch);
        batch = '';
        inBatch = 0;
      }
    }
    if (batch) {
      yield batch;
      onRows?.(inBatch);
    }
  }
  await pipeline(Readable.from(batches(), { objectMode: false }), sink);
  return count;
}

/**
 * Copies a table from one connection to another: COPY TO STDOUT piped into COPY FROM STDIN in
 * text format, so versions may differ. `onBytes(n)` as data flows; returns the bytes copied.
 */
export async function copyTableBetween(
  from: pg.ClientBase,
  to: pg.ClientBase,
  table: TableRef,
  columns: readonly string[],
  onBytes?: (n: number) => void,
): Promise<number> {
  const list = columns.map(ident).join(', ');
  const source = from.query(copyTo(`copy ${qualified(table)} (${list}) to stdout`));
  const sink = to.query(copyFrom(`copy ${qualified(table)} (${list}) from stdin`));
  let bytes = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      bytes += chunk.length;
      onBytes?.(chunk.length);
      done(null, chunk);
    },
  });
  await pipeline(source, meter, sink);
  return bytes;
}

function qualified(table: TableRef): string {
  return `${ident(table.schema)}.${ident(table.table)}`;
}
