/**
 * A SQLite database shaped like seed 003's chat app (users with bcrypt password hashes, rooms,
 * messages with foreign keys to both, contacts), as the app would have left it on D1; and the same
 * database as `sqlite3 .dump` and `wrangler d1 export` print it.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { hashSync } from '@node-rs/bcrypt';
import Database from 'better-sqlite3';

export const CHAT_SCHEMA = `
CREATE TABLE users (
  id TEXT PRIMARY KEY,
  username TEXT UNIQUE NOT NULL,
  email TEXT UNIQUE NOT NULL,
  password_hash TEXT NOT NULL,
  display_name TEXT,
  tokens INTEGER DEFAULT 0,
  searchable BOOLEAN DEFAULT 1,
  settings TEXT,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE rooms (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  room_code TEXT UNIQUE NOT NULL,
  room_name VARCHAR(40),
  created_by TEXT REFERENCES users(id),
  is_direct BOOLEAN DEFAULT 0,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  sender_id TEXT NOT NULL REFERENCES users(id),
  body TEXT NOT NULL CHECK (length(body) > 0),
  is_file BOOLEAN DEFAULT 0,
  file_metadata JSON,
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX idx_messages_room ON messages(room_id, created_at DESC);
CREATE INDEX idx_messages_files ON messages(room_id) WHERE is_file = 1;
CREATE TABLE contacts (
  user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
  contact_id TEXT REFERENCES users(id) ON DELETE CASCADE,
  status TEXT DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'blocked')),
  created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (user_id, contact_id)
) WITHOUT ROWID;
`;

export const ADA = { id: '6f1c1f0e-8a47-4c1b-9a53-2d3f1b9c0a01', email: 'ada@example.com', password: 'ada-secret-1' };
export const BOB = { id: '6f1c1f0e-8a47-4c1b-9a53-2d3f1b9c0a02', email: 'bob@example.com', password: 'bob-secret-2' };

/** Fills `db` with the chat app's schema and a few rows. */
export function fillChat(db: Database.Database): void {
  db.exec(CHAT_SCHEMA);
  const user = db.prepare(
    `insert into users (id, username, email, password_hash, display_name, tokens, searchable, settings, created_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  // The email as the app stored it: mixed case and a stray space, which the import normalises.
  user.run(
    ADA.id,
    'ada',
    ' Ada@Example.com',
    hashSync(ADA.password, 4),
    'Ada',
    5,
    1,
    '{"theme":"dark"}',
    '2025-11-01 09:00:00',
  );
  user.run(BOB.id, 'bob', BOB.email, hashSync(BOB.password, 4), 'Bob', 0, 0, null, '2025-11-02 10:30:00');
  db.prepare(`insert into rooms (room_code, room_name, created_by, is_direct) values (?, ?, ?, ?)`).run(
    'general',
    'General',
    ADA.id,
    0,
  );
  db.prepare(`insert into rooms (room_code, room_name, created_by, is_direct) values (?, ?, ?, ?)`).run(
    'ada-bob',
    null,
    ADA.id,
    1,
  );
  const message = db.prepare(
    `insert into messages (room_id, sender_id, body, is_file, file_metadata, created_at) values (?, ?, ?, ?, ?, ?)`,
  );
  message.run(1, ADA.id, 'hello everyone', 0, null, '2025-12-01 10:00:00');
  message.run(1, BOB.id, 'hi ada', 0, null, '2025-12-01 10:01:00');
  message.run(2, BOB.id, 'photo.png', 1, '{"name":"photo.png","size":1234}', '2025-12-01 10:02:00');
  db.prepare(`insert into contacts (user_id, contact_id, status) values (?, ?, ?)`).run(ADA.id, BOB.id, 'accepted');
}

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A chat database file in `dir`; `extra` runs after the rows are in. */
export function chatDatabase(file: string, extra?: (db: Database.Database) => void): string {
  const db = new Database(file);
  try {
    fillChat(db);
    extra?.(db);
  } finally {
    db.close();
  }
  return file;
}

function literal(value: unknown): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (Buffer.isBuffer(value)) return `X'${value.toString('hex')}'`;
  return `'${(value as string).replaceAll("'", "''")}'`;
}

/** The database as `sqlite3 file .dump` prints it (PRAGMA, one transaction, INSERT per row, sqlite_sequence). */
export function sqliteDump(file: string, style: 'sqlite3' | 'd1' = 'sqlite3'): string {
  const db = new Database(file, { readonly: true });
  try {
    const lines =
      style === 'sqlite3' ? ['PRAGMA foreign_keys=OFF;', 'BEGIN TRANSACTION;'] : ['PRAGMA defer_foreign_keys=TRUE;'];
    if (style === 'd1') lines.push(`CREATE TABLE _cf_KV (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;`);
    if (style === 'd1')
      lines.push(
        `CREATE TABLE d1_migrations(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL);`,
      );
    const tables = db
      .prepare(`select name, sql from sqlite_master where type = 'table' and name not like 'sqlite_%' order by rowid`)
      .all() as { name: string; sql: string }[];
    for (const t of tables) {
      lines.push(`${t.sql};`);
      for (const row of db.prepare(`select * from "${t.name}"`).raw(true).all() as unknown[][])
        lines.push(`INSERT INTO ${style === 'd1' ? `"${t.name}"` : t.name} VALUES(${row.map(literal).join(',')});`);
    }
    if (style === 'd1') lines.push(`INSERT INTO "d1_migrations" VALUES(1,'0001_init.sql','2025-11-01 08:00:00');`);
    lines.push(`DELETE FROM sqlite_sequence;`);
    for (const s of db.prepare(`select name, seq from sqlite_sequence`).all() as { name: string; seq: number }[])
      lines.push(`INSERT INTO sqlite_sequence VALUES('${s.name}',${s.seq});`);
    for (const i of db.prepare(`select sql from sqlite_master where type = 'index' and sql is not null`).all() as {
      sql: string;
    }[])
      lines.push(`${i.sql};`);
    if (style === 'sqlite3') lines.push('COMMIT;');
    return `${lines.join('\n')}\n`;
  } finally {
    db.close();
  }
}
