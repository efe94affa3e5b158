/**
 * On a PostgreSQL server (DATABASE_URL), `trellis backup` is a pg_dump -Fc into the target with a
 * manifest, and `trellis restore --db-url` pg_restores it into an empty database; without a
 * pg_dump on PATH the command says what to install.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { compareDigests, digestTables, listTables } from '../../src/db/index.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { trellis, withPg } from './helpers.js';

let source: TestDatabase;
let empty: TestDatabase;
let dir: string;

beforeAll(async () => {
  source = await freshDatabase();
  empty = await freshDatabase();
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-dump-project-'));
  await withPg(source.url, (c) =>
    c.query(`create schema app;
      create table app.people (id int primary key, name text, born date, data jsonb);
      insert into app.people select i, 'person ' || i, date '2000-01-01' + i, jsonb_build_object('i', i) from generate_series(1, 1000) i;
      create table public."odd ""name""" (x text); insert into public."odd ""name""" values (E'tab\\there'), (null);`),
  );
});

afterAll(async () => {
  await source?.drop();
  await empty?.drop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

test('pg_dump backup of a server, pg_restore into an empty database: identical digests', async () => {
  const made = await trellis(['backup', '--dir', dir], { DATABASE_URL: source.url });
  expect(made.code, made.stderr).toBe(0);
  expect(made.stdout).toMatch(/backup \d{8}T\d{9}Z \(pg_dump\) complete/);
  const list = await trellis(['backup', 'list', '--dir', dir], { DATABASE_URL: source.url });
  expect(list.stdout).toMatch(/complete .* pg_dump/);

  const restored = await trellis(['restore', '--from', path.join(dir, 'backups'), '--db-url', empty.url]);
  expect(restored.code, restored.stderr).toBe(0);
  const digest = (url: string) =>
    withPg(url, async (c) => {
      await c.query('begin isolation level repeatable read');
      const d = await digestTables(c, await listTables(c, ['app', 'public']));
      await c.query('commit');
      return d;
    });
  const [a, b] = [await digest(source.url), await digest(empty.url)];
  expect(a.find((d) => d.table === 'people')?.rows).toBe(1000);
  expect(compareDigests(a, b)).toEqual([]);

  // A second restore into the now non-empty database is refused before anything is written.
  const again = await trellis(['restore', '--from', path.join(dir, 'backups'), '--db-url', empty.url]);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain('is not empty');
});

test('without pg_dump on PATH: one line saying what to install', async () => {
  const r = await trellis(['backup', '--dir', dir], { DATABASE_URL: source.url, PATH: '/nonexistent' });
  expect(r.code).toBe(1);
  expect(r.stderr).toContain('pg_dump is not on PATH');
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
});
