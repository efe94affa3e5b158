/**
 * `trellis import` of a SQLite file (issue 14) beside its floor, Debian's pgloader, importing the
 * same file into a fresh database on the same PostgreSQL server in the same run. The file is seed
 * 003's chat shape: users, rooms, and a messages table of --rows rows (id, room_id, user_id, body of
 * about 80 characters, created_at as SQLite's CURRENT_TIMESTAMP writes it), with its foreign keys
 * and an index. Both import every table with keys, indexes and foreign keys; the time is the whole
 * command's, from spawn to exit (Trellis's includes its schema migration and the profiling pass).
 *
 *   npm run build && npx tsx bench/import.ts [--rows 1000000] [--db-url postgres://…/postgres] [--write]
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import pg from 'pg';
import { report } from './report.js';
import { ROOT } from './server.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    'db-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    write: { type: 'boolean', default: false },
  },
});
const ROWS = Number(values.rows);
const ADMIN = values['db-url'];
const USERS = 1000;
const ROOMS = 100;
const WORDS = 'the quick brown fox jumps over a lazy dog while we wait for the next train home tonight ok'.split(' ');

function makeSqlite(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = off');
  db.pragma('synchronous = off');
  db.exec(`
    create table users (id integer primary key autoincrement, email text unique not null, display_name text, created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
    create table rooms (id integer primary key autoincrement, room_code text unique not null, created_by integer references users(id), created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
    create table messages (id integer primary key autoincrement, room_id integer not null references rooms(id) on delete cascade,
      user_id integer not null references users(id), body text not null, created_at DATETIME DEFAULT CURRENT_TIMESTAMP);
    create index idx_messages_room on messages(room_id, created_at);`);
  const start = Date.UTC(2025, 0, 1) / 1000;
  const stamp = (s: number) => new Date(s * 1000).toISOString().slice(0, 19).replace('T', ' ');
  db.transaction(() => {
    const u = db.prepare(`insert into users (email, display_name, created_at) values (?, ?, ?)`);
    for (let i = 1; i <= USERS; i++) u.run(`user${i}@example.com`, `User ${i}`, stamp(start + i));
    const r = db.prepare(`insert into rooms (room_code, created_by, created_at) values (?, ?, ?)`);
    for (let i = 1; i <= ROOMS; i++) r.run(`room-${i}`, (i % USERS) + 1, stamp(start + i));
    const m = db.prepare(`insert into messages (room_id, user_id, body, created_at) values (?, ?, ?, ?)`);
    const random = crypto.randomBytes(ROWS * 2);
    for (let i = 0; i < ROWS; i++) {
      let body = '';
      for (let w = i; body.length < 80; w += (random[(i * 2) % random.length] ?? 1) + 1)
        body += `${WORDS[w % WORDS.length]} `;
      m.run((i % ROOMS) + 1, ((i * 7) % USERS) + 1, body.trim(), stamp(start + 3600 + i));
    }
  })();
  db.close();
}

async function withDatabase<T>(name: string, fn: (url: string) => Promise<T>): Promise<T> {
  const admin = new pg.Client({ connectionString: ADMIN });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  const url = new URL(ADMIN);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

async function countMessages(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return Number((await c.query(`select count(*) as n from public.messages`)).rows[0].n);
  } finally {
    await c.end();
  }
}

function timed(command: string, args: string[], env: NodeJS.ProcessEnv): number {
  const started = performance.now();
  const run = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const ms = performance.now() - started;
  if (run.status !== 0) throw new Error(`${command} exited ${run.status}:\n${run.stdout}\n${run.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-bench-import-'));
  fs.chmodSync(work, 0o755);
  const file = path.join(work, 'chat.db');
  try {
    process.stderr.write(`making ${file} with ${ROWS.toLocaleString('en-US')} messages…\n`);
    makeSqlite(file);
    const total = ROWS + USERS + ROOMS;
    const suffix = crypto.randomBytes(4).toString('hex');
    process.stderr.write(`trellis import…\n`);
    const trellis = await withDatabase(`bench_import_trellis_${suffix}`, async (url) => {
      const project = path.join(work, 'project');
      fs.mkdirSync(path.join(project, 'supabase', 'migrations'), { recursive: true });
      const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: 'warn' };
      const ms = timed(process.execPath, [path.join(ROOT, 'bin', 'trellis.js'), 'import', file, '--dir', project], env);
      return { ms, rows: await countMessages(url) };
    });
    process.stderr.write(`pgloader…\n`);
    const pgloader = await withDatabase(`bench_import_pgloader_${suffix}`, async (url) => {
      const ms = timed('pgloader', ['--quiet', `sqlite://${file}`, url], process.env);
      return { ms, rows: await countMessages(url) };
    });
    if (trellis.rows !== ROWS || pgloader.rows !== ROWS)
      throw new Error(`row counts differ: trellis ${trellis.rows}, pgloader ${pgloader.rows}, expected ${ROWS}`);
    const rate = (ms: number) => total / (ms / 1000);
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    const table = [
      '| Import of the same SQLite file | Time | Rows/s | Ratio |',
      '| --- | --- | --- | --- |',
      `| \`trellis import\` (${fmt(total)} rows: ${fmt(ROWS)} messages, users, rooms) | ${(trellis.ms / 1000).toFixed(1)} s | ${fmt(rate(trellis.ms))} | ${(rate(trellis.ms) / rate(pgloader.ms)).toFixed(2)} |`,
      `| floor: pgloader ${pgloaderVersion()} (\`pgloader sqlite://… postgresql://…\`) | ${(pgloader.ms / 1000).toFixed(1)} s | ${fmt(rate(pgloader.ms))} | 1.00 |`,
    ].join('\n');
    report('import', `\`npx tsx bench/import.ts --rows ${ROWS}\``, table, values.write === true);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

function pgloaderVersion(): string {
  const run = spawnSync('pgloader', ['--version'], { encoding: 'utf8' });
  return /version "?([^"\s]+)/.exec(run.stdout)?.[1] ?? '';
}

await main();
