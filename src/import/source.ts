/**
 * What `trellis import <source>` was given: a SQLite database file, a SQL text dump of one
 * (`sqlite3 .dump`, `wrangler d1 export`), loaded into a temporary SQLite database, or a
 * PostgreSQL dump. Opened read-only; nothing here writes to the target.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { FatalError, errorMessage } from '../errors.js';

export type SourceKind = 'sqlite' | 'sql-dump' | 'pg-dump';

export interface OpenedSource {
  readonly kind: SourceKind;
  readonly db: Database.Database;
  /** Removes the temporary database a dump was loaded into. */
  close(): Promise<void>;
}

const MAGIC = Buffer.from('SQLite format 3\u0000', 'latin1');

/** The kind of a source from its first bytes. */
export function detectSource(head: Buffer): SourceKind | { error: string } {
  if (head.length === 0) return { error: 'is empty' };
  if (head.subarray(0, 16).equals(MAGIC)) return 'sqlite';
  if (head.length < 100 && MAGIC.subarray(0, head.length).equals(head))
    return { error: 'is a truncated SQLite database (shorter than its header)' };
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  if (/^\s*--\s*PostgreSQL database dump/m.test(text.split('\n').slice(0, 5).join('\n'))) return 'pg-dump';
  if (head.includes(0))
    return { error: 'is neither a SQLite database (no "SQLite format 3" header) nor a SQL text dump' };
  if (!/\b(create\s+table|insert\s+into|pragma|begin)\b/i.test(text))
    return {
      error: 'is neither a SQLite database nor a SQL dump (no CREATE TABLE, INSERT or PRAGMA in its first 64 KiB)',
    };
  return 'sql-dump';
}

export async function openSource(file: string): Promise<OpenedSource> {
  const handle = await fs.open(file, 'r').catch((err: unknown) => {
    throw new FatalError(`cannot open ${file}: ${errorMessage(err)}`);
  });
  let head: Buffer;
  try {
    const buffer = Buffer.alloc(64 * 1024);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    head = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const kind = detectSource(head);
  if (typeof kind !== 'string') throw new FatalError(`${file} ${kind.error}`);
  if (kind === 'pg-dump') return { kind, db: undefined as never, close: async () => undefined };
  if (kind === 'sqlite') {
    const db = openSqlite(file, { readonly: true, fileMustExist: true });
    return {
      kind,
      db,
      close: async () => {
        db.close();
      },
    };
  }
  return loadDump(file);
}

function openSqlite(file: string, options: Database.Options): Database.Database {
  try {
    const db = new Database(file, options);
    // A header that lies about the page size or a truncated file fails here, before any planning.
    db.prepare('select count(*) from sqlite_master').get();
    return db;
  } catch (err) {
    throw new FatalError(`${file} cannot be read as SQLite: ${errorMessage(err)} (is it truncated or corrupt?)`);
  }
}

/** A dump's SQL run into a temporary SQLite database, as the sqlite3 shell would read it. */
async function loadDump(file: string): Promise<OpenedSource> {
  const text = await fs.readFile(file, 'utf8');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-import-'));
  const remove = () => fs.rm(dir, { recursive: true, force: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(path.join(dir, 'dump.db'));
    db.pragma('journal_mode = off');
    db.pragma('synchronous = off');
    db.exec(text);
    if (db.inTransaction) db.exec('commit');
  } catch (err) {
    db?.close();
    await remove();
    throw new FatalError(
      `${file} does not load as a SQLite dump: ${errorMessage(err)}${nearLine(text, errorMessage(err))}`,
    );
  }
  const opened = db;
  return {
    kind: 'sql-dump',
    db: opened,
    close: async () => {
      opened.close();
      await remove();
    },
  };
}

/** SQLite says `near "X": syntax error`; the first line holding X is where to look. */
function nearLine(text: string, message: string): string {
  const near = /near "([^"]+)"/.exec(message)?.[1];
  if (!near) return '';
  const index = text.indexOf(near);
  if (index < 0) return '';
  return ` (line ${text.slice(0, index).split('\n').length})`;
}
