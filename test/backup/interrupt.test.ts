/**
 * A backup killed half-way is never complete, restore refuses it, and the next backup removes it;
 * verify passes on a good backup and names the table a corrupted piece damages; bad input to
 * restore is refused with one line and exit code 1, and writes nothing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tempProject } from '../helpers/cli.js';
import { backupDir, folderBackups, killBackupHalfway, trellis } from './helpers.js';

// Built by SQL, so that only the table's row holds it (the migration's text is kept too).
const MARKER = `verify-marker-${'A'.repeat(50)}`;
let dir: string;
let target: string;
let good: string;
const cleanup: string[] = [];

beforeAll(async () => {
  dir = await tempProject({
    '20260101000000_things.sql': `
      create table public.things (id int primary key, note text not null);
      insert into public.things select i, 'row ' || i from generate_series(1, 2000) i;
      insert into public.things values (0, 'verify-marker-' || repeat('A', 50));
      create table public.empty_one (id int);
      create table public."we""ird; drop table x;--" ("a""b" text);
      insert into public."we""ird; drop table x;--" values (E'tab\there'), (null), (repeat('z', 100000));`,
  });
  cleanup.push(dir);
  target = backupDir(dir);
  const migrated = await trellis(['migrate', '--dir', dir]);
  expect(migrated.code, migrated.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  for (const d of cleanup) await fs.rm(d, { recursive: true, force: true });
});

describe('a backup killed with SIGKILL half-way', () => {
  let partial: string;

  test('is listed as incomplete, never as complete', async () => {
    partial = await killBackupHalfway(dir, target, { TRELLIS_TEST_BACKUP_DELAY_MS: '20' }, 700);
    const list = await trellis(['backup', 'list', '--dir', dir]);
    expect(list.code).toBe(0);
    const id = partial.replace('.partial', '');
    expect(list.stdout).toContain(`${id}  INCOMPLETE`);
    expect(list.stdout).not.toContain('complete    ');
    const json = JSON.parse((await trellis(['backup', 'list', '--dir', dir, '-o', 'json'])).stdout) as {
      id: string;
      complete: boolean;
    }[];
    expect(json).toEqual([{ id, complete: false }]);
  });

  test('restore refuses it, by its folder or by its id, and writes nothing', async () => {
    const id = partial.replace('.partial', '');
    const into = path.join(dir, 'restore-into');
    const byFolder = await trellis(['restore', '--from', path.join(target, partial), '--dir', into]);
    expect(byFolder.code).toBe(1);
    expect(byFolder.stderr).toContain(`backup ${id} is incomplete`);
    const byId = await trellis(['restore', '--from', target, '--backup', id, '--dir', into]);
    expect(byId.code).toBe(1);
    expect(byId.stderr).toContain(`backup ${id} is incomplete`);
    await expect(fs.readdir(into).catch(() => [])).resolves.toEqual([]);
  });

  test('the next backup completes and removes it', async () => {
    const next = await trellis(['backup', '--dir', dir]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stderr).toContain('removed 1 incomplete backup');
    const names = await folderBackups(target);
    expect(names).toHaveLength(1);
    expect(names[0]).not.toContain('partial');
    good = names[0]!;
  });
});

describe('backup verify', () => {
  test('passes on a good backup, table by table', async () => {
    const r = await trellis(['backup', 'verify', '--dir', dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('public.things: OK 2001 rows');
    expect(r.stdout).toContain('public.empty_one: OK 0 rows');
    expect(r.stdout).toContain('public.we"ird; drop table x;--: OK 3 rows');
    expect(r.stdout).toMatch(/[1-9]\d* B-tree indexes checked \(amcheck\)/);
    expect(r.stdout).toContain(`backup ${good}: verified`);
  });

  test('fails with exit 1 and names the table when a piece is corrupted', async () => {
    // A copy of the good backup whose base has one byte of a row of public.things changed.
    const copy = await fs.mkdtemp(path.join(path.dirname(dir), 'trellis-corrupt-'));
    cleanup.push(copy);
    await fs.cp(target, copy, { recursive: true });
    const piece = path.join(copy, good, 'base.tar.gz');
    const tar = zlib.gunzipSync(await fs.readFile(piece));
    const at = tar.indexOf(MARKER);
    expect(at).toBeGreaterThan(0);
    expect(tar.indexOf(MARKER, at + 1)).toBe(-1);
    tar.write('B', at + MARKER.length - 1, 'latin1');
    await fs.writeFile(piece, zlib.gzipSync(tar));
    const r = await trellis(['backup', 'verify', '--dir', dir], { BACKUP_TARGET: copy });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('piece base.tar.gz: MISMATCH checksum mismatch');
    expect(r.stdout).toMatch(/public\.things: MISMATCH/);
    expect(r.stdout).toContain('public.empty_one: OK');
    expect(r.stdout).toContain('FAILED verification');
    // restore stops at the mismatch instead of serving damaged data.
    const into = path.join(copy, 'restored');
    const restored = await trellis(['restore', '--from', copy, '--dir', into]);
    expect(restored.code).toBe(1);
    expect(restored.stderr).toContain('piece base.tar.gz: checksum mismatch');
  });
});

describe('restore to a time after the newest archived WAL', () => {
  test('says so and restores to the latest point archived', async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const t = new Date(Date.now() - 500).toISOString();
    const into = path.join(dir, 'after-newest');
    const r = await trellis(['restore', '--from', target, '--to-time', t, '--dir', into]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${t} is after the newest archived WAL`);
    expect(r.stdout).toContain('to the latest point archived');
    await expect(fs.stat(path.join(into, '.trellis', 'pg', 'PG_VERSION'))).resolves.toBeDefined();
  }, 120_000);
});

describe('restore refuses bad input with one line and exit code 1', () => {
  test.each([
    [['--to-time', 'yesterday'], '--to-time: "yesterday" is not an ISO-8601 time with a zone'],
    [['--to-time', '2026-01-01T10:00:00'], '--to-time: "2026-01-01T10:00:00" has no time zone'],
    [['--to-time', '2999-01-01T00:00:00Z'], '--to-time: 2999-01-01T00:00:00Z is in the future'],
    [['--to-time', '2026-02-31T00:00:00Z'], 'is not a valid date'],
    [['--to-time', '2000-01-01T00:00:00Z'], 'is before the end of the oldest backup'],
    [['--to-time', '2020-01-01T00:00:00Z', '--to-latest'], 'exclude each other'],
  ])('%j', async (args, message) => {
    const into = path.join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await trellis(['restore', '--from', target, '--dir', into, ...args]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    await expect(fs.readdir(into).catch(() => [])).resolves.toEqual([]);
  });

  test('--from missing, or a folder that does not exist', async () => {
    const none = await trellis(['restore', '--dir', path.join(dir, 'x')]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('--from: is required');
    const missing = await trellis(['restore', '--from', path.join(dir, 'no-such'), '--dir', path.join(dir, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('is not a backup folder');
  });

  test('--dir not empty', async () => {
    const full = path.join(dir, 'full');
    await fs.mkdir(full);
    await fs.writeFile(path.join(full, 'keep.txt'), 'mine');
    const r = await trellis(['restore', '--from', target, '--dir', full]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('is not empty');
    await expect(fs.readdir(full)).resolves.toEqual(['keep.txt']);
  });

  test('a corrupt manifest: not listed as complete, not restorable', async () => {
    const copy = await fs.mkdtemp(path.join(path.dirname(dir), 'trellis-badmanifest-'));
    cleanup.push(copy);
    await fs.cp(target, copy, { recursive: true });
    await fs.writeFile(
      path.join(copy, good, 'manifest.json'),
      '{"format":"trellis-backup/1","kind":"embedded","id":"\0',
    );
    const list = await trellis(['backup', 'list', '--dir', dir], { BACKUP_TARGET: copy });
    expect(list.stdout).toContain('manifest.json is not valid JSON');
    const r = await trellis(['restore', '--from', copy, '--backup', good, '--dir', path.join(copy, 'r')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('manifest.json is not valid JSON');
  });
});
