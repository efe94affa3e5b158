/** Retention on a folder target: which backups and which shipped WAL prune keeps. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { openTarget, pruneBackups, type BackupTarget, type EmbeddedManifest } from '../../src/backup/index.js';

let root: string;
let target: BackupTarget;
const sha = 'a'.repeat(64);

const manifest = (id: string, systemId: string, startWal: string): EmbeddedManifest => ({
  format: 'trellis-backup/1',
  kind: 'embedded',
  id,
  label: id,
  startLsn: '0/1000028',
  stopLsn: '0/1000100',
  consistentLsn: '0/1000200',
  timeline: 1,
  systemId,
  startWal,
  lastWal: startWal,
  startTime: '2026-12-01T00:00:00.000Z',
  stopTime: '2026-12-01T00:00:01.000Z',
  postgresVersion: '18.4',
  trellisVersion: '0.1.0',
  pieces: [{ name: 'base.tar.gz', size: 1, sha256: sha }],
  storageFiles: 0,
  tables: [],
});

async function backup(id: string, systemId: string, startWal: string) {
  await target.put(target.stagingKey(id, 'base.tar.gz'), Readable.from([Buffer.from('x')]));
  await target.complete(id, Buffer.from(JSON.stringify(manifest(id, systemId, startWal))));
}

const wal = (system: string, n: number) =>
  `wal/${system}/0000000100000000000000${n.toString(16).toUpperCase().padStart(2, '0')}-${sha}`;

beforeAll(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-retention-'));
  target = await openTarget(
    root,
    {
      endpoint: undefined,
      region: 'us-east-1',
      accessKeyId: undefined,
      secretAccessKey: undefined,
      forcePathStyle: false,
    },
    true,
  );
});
afterAll(() => fs.rm(root, { recursive: true, force: true }));

test('keeps the newest BACKUP_KEEP and the WAL from the oldest kept one on; WAL of a cluster with no backup goes only with its lock', async () => {
  await backup('20261201T000000000Z', '111', '000000010000000000000002');
  await backup('20261201T010000000Z', '111', '000000010000000000000005');
  await backup('20261201T020000000Z', '111', '000000010000000000000008');
  // An interrupted one.
  await target.put(target.stagingKey('20261201T030000000Z', 'base.tar.gz'), Readable.from([Buffer.from('x')]));
  for (let n = 1; n <= 9; n++) await target.put(wal('111', n), Readable.from([Buffer.from('w')]));
  await target.put(`wal/111/00000002.history-${sha}`, Readable.from([Buffer.from('h')]));
  // WAL of another cluster (the one after a `db reset`, or a project sharing the target) with no
  // complete backup yet: its first backup may be under way and need it.
  await target.put(wal('222', 3), Readable.from([Buffer.from('w')]));

  const report = await pruneBackups(target, 2);
  expect(report.removedBackups).toEqual(['20261201T000000000Z']);
  expect(report.removedIncomplete).toBe(1);
  expect((await target.backups()).map((b) => b.id)).toEqual(['20261201T010000000Z', '20261201T020000000Z']);
  const left = (await target.list('wal/')).map((o) => o.key);
  expect(left).toEqual([
    wal('111', 5),
    wal('111', 6),
    wal('111', 7),
    wal('111', 8),
    wal('111', 9),
    `wal/111/00000002.history-${sha}`,
    wal('222', 3),
  ]);
  expect(await target.exists(wal('222', 3))).toBe(true);

  // Its own cluster's prune, holding that cluster's backup lock (so no backup of it is under way),
  // drops it: no backup could replay it.
  expect((await pruneBackups(target, 2, '222')).removedWal).toBe(1);
  expect(await target.exists(wal('222', 3))).toBe(false);
});
