/**
 * The running server takes backups on BACKUP_SCHEDULE and keeps BACKUP_KEEP of them; the WAL the
 * kept ones do not need is deleted and the local archive stays empty once shipped; /ready and
 * /metrics report the last success.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCli, tempProject, type RunningCli } from '../helpers/cli.js';
import { backupDir, folderBackups, statusOf } from './helpers.js';

let dir: string;
let server: RunningCli | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  dir = await tempProject({ '20260101000000_t.sql': 'create table public.t (id int);' });
  server = await startCli(dir, { BACKUP_SCHEDULE: '*/3 * * * * *', BACKUP_KEEP: '2', BACKUP_SHIP_INTERVAL: '1' });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

test('a seconds-level schedule fires, retention keeps BACKUP_KEEP, the archive stays bounded', async () => {
  const seen = new Set<string>();
  const deadline = Date.now() + 60_000;
  while (seen.size < 4) {
    for (const n of await folderBackups(backupDir(dir))) if (!n.endsWith('.partial')) seen.add(n);
    if (Date.now() > deadline) throw new Error(`only ${seen.size} scheduled backups in 60 s:\n${server!.output()}`);
    await sleep(250);
  }
  // A pass of the service after the last prune.
  await sleep(1500);
  const kept = (await folderBackups(backupDir(dir))).filter((n) => !n.endsWith('.partial'));
  expect(kept).toHaveLength(2);

  // No WAL segment older than the oldest kept backup's start is left in the target.
  const oldest = JSON.parse(await fs.readFile(path.join(backupDir(dir), kept[0]!, 'manifest.json'), 'utf8')) as {
    startWal: string;
  };
  const segments = (await fs.readdir(path.join(backupDir(dir), 'wal'), { recursive: true }))
    .map((n) => path.basename(n))
    .filter((n) => /^[0-9A-F]{24}\.gz-/.test(n));
  expect(segments.length).toBeGreaterThan(0);
  for (const s of segments) expect(s.slice(8, 24) >= oldest.startWal.slice(8, 24), s).toBe(true);
  const local = (await fs.readdir(path.join(dir, '.trellis', 'wal-archive'))).filter((n) => /^[0-9A-F]{24}$/.test(n));
  expect(local.length).toBeLessThanOrEqual(2);

  const ready = (await (await fetch(`${server!.url}/ready`)).json()) as {
    status: string;
    backup: Record<string, unknown> & { lastSuccess: string | null; schedule: string };
  };
  expect(ready.status).toBe('ready');
  expect(Object.keys(ready.backup).sort()).toEqual([
    'archiveLagSeconds',
    'lastSuccess',
    'pendingSegments',
    'schedule',
    'shippingFailed',
  ]);
  expect(ready.backup.schedule).toBe('*/3 * * * * *');
  expect(Date.parse(ready.backup.lastSuccess ?? '')).toBeGreaterThan(Date.now() - 30_000);

  const { SERVICE_ROLE_KEY } = await statusOf(dir);
  const metrics = await (await fetch(`${server!.url}/metrics`, { headers: { apikey: SERVICE_ROLE_KEY } })).text();
  const last = /^trellis_backup_last_success_timestamp_seconds (\S+)$/m.exec(metrics)?.[1];
  expect(Number(last)).toBeGreaterThan(Date.now() / 1000 - 30);
  expect(metrics).toMatch(/^trellis_wal_archive_lag_seconds \d/m);
  expect(metrics).toMatch(/^trellis_wal_archive_pending_segments \d/m);
  expect(metrics).toMatch(/^trellis_wal_archive_failures_total 0$/m);
  expect(metrics).toMatch(/^trellis_backup_last_duration_seconds \S+$/m);
}, 120_000);
