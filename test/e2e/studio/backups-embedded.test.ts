/**
 * Studio's backup buttons on the embedded database (`trellis start` without DATABASE_URL): the
 * backup is `trellis backup`'s base backup with its WAL, and a restore goes into a new project
 * folder beside this one, which then serves the row deleted after the backup.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCli, tempProject, type RunningCli } from '../../helpers/cli.js';
import { statusOf, withPg } from '../../backup/helpers.js';

const MIGRATION = `
create table public.keep (id int primary key, note text not null);
insert into public.keep values (1, 'first'), (2, 'second'), (3, 'third');
`;

let dir: string;
let server: RunningCli;
let key: string;
let dbUrl: string;
const cleanup: string[] = [];

async function call(method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.url}/studio/api${url}`, {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

async function walFiles(folder: string): Promise<number> {
  const entries = await fs.readdir(folder, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).length;
}

async function finished(id: string): Promise<Record<string, any>> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const { body } = await call('GET', `/jobs/${id}`);
    if (body.job.state !== 'running') return body.job;
    if (Date.now() > deadline) throw new Error(`job ${id} still running`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dir = await tempProject({ '20240101000000_keep.sql': MIGRATION });
  cleanup.push(dir);
  // WAL shipped each second, so that the delete's segment reaches the target before the restore.
  server = await startCli(dir, { BACKUP_SHIP_INTERVAL: '1' });
  const status = await statusOf(dir);
  key = status.SERVICE_ROLE_KEY;
  dbUrl = status.DB_URL;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  for (const d of cleanup) await fs.rm(d, { recursive: true, force: true });
});

test('backup, delete a row, restore into a new folder: the folder serves the row again', async () => {
  const started = await call('POST', '/backups', {});
  expect(started.status).toBe(202);
  const backup = await finished(started.body.job.id);
  expect(backup.error).toBeNull();
  expect(backup.result).toMatchObject({ kind: 'embedded' });
  const id = backup.result.backup as string;
  // A point after the backup and before the delete: the restore stops there.
  await new Promise((r) => setTimeout(r, 1100));
  const beforeDelete = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 1100));
  await withPg(dbUrl, (c) => c.query('delete from public.keep where id = 2'));
  // A commit after it, archived with it, so that recovery can tell it reached the time.
  await withPg(dbUrl, (c) => c.query("insert into public.keep values (4, 'fourth')"));
  const shipped = () => walFiles(path.join(dir, 'backups', 'wal'));
  const before = await shipped();
  await withPg(dbUrl, (c) => c.query('select pg_switch_wal()'));
  await expect.poll(shipped, { timeout: 30_000, interval: 200 }).toBeGreaterThan(before);

  for (const folder of ['../outside', '.hidden', 'a/b', '..']) {
    const bad = await call('POST', `/backups/${id}/restore`, { confirm: id, folder });
    expect(bad.status, folder).toBe(400);
  }
  expect((await call('POST', `/backups/${id}/restore`, { confirm: id, databaseUrl: dbUrl })).status).toBe(400);
  const noTime = await call('POST', `/backups/${id}/restore`, { confirm: id, folder: 'x', toTime: 'yesterday' });
  expect(noTime.status).toBe(400);
  expect(noTime.body.message).toMatch(/toTime/);
  // The project's own folder is not empty: the job fails before anything is written.
  const own = await finished(
    (await call('POST', `/backups/${id}/restore`, { confirm: id, folder: path.basename(dir) })).body.job.id,
  );
  expect(own.state).toBe('failed');
  expect(own.error).toMatch(/not empty/);

  const folder = `${path.basename(dir)}-restored`;
  const into = path.join(path.dirname(dir), folder);
  cleanup.push(into);
  const restore = await call('POST', `/backups/${id}/restore`, { confirm: id, folder, toTime: beforeDelete });
  expect(restore.status).toBe(202);
  const job = await finished(restore.body.job.id);
  expect(job.error).toBeNull();
  expect(job.result).toMatchObject({ backup: id, dir: into, reached: 'time' });
  const restored = await startCli(into);
  try {
    const s = await statusOf(into);
    const rows = await withPg(s.DB_URL, async (c) => (await c.query('select id from public.keep order by id')).rows);
    expect(rows).toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
  } finally {
    await restored.stop();
  }
}, 240_000);
