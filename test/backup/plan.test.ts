/** The pure parts of backups: --to-time parsing, the choice of a backup, the base-backup filter, tar round trips. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { chooseBackup, parseManifest, parseRestoreTime, storageFileParts } from '../../src/backup/index.js';
import { baseBackupFilter } from '../../src/backup/create.js';
import { extractTar, listTree, tarEntries, tarHeader } from '../../src/backup/tar.js';
import type { Manifest } from '../../src/backup/index.js';

const now = new Date('2026-12-02T12:00:00Z');

describe('parseRestoreTime', () => {
  test.each([
    ['2026-12-02T10:00:00Z', '2026-12-02 10:00:00+00:00', '2026-12-02T10:00:00.000Z'],
    ['2026-12-02T10:00:00.123456Z', '2026-12-02 10:00:00.123456+00:00', '2026-12-02T10:00:00.123Z'],
    ['2026-12-02T12:30:00+02:00', '2026-12-02 12:30:00+02:00', '2026-12-02T10:30:00.000Z'],
    ['2026-12-02 10:00Z', '2026-12-02 10:00+00:00', '2026-12-02T10:00:00.000Z'],
  ])('%s', (input, text, iso) => {
    const parsed = parseRestoreTime(input, now);
    expect(typeof parsed).toBe('object');
    if (typeof parsed === 'object') {
      expect(parsed.text).toBe(text);
      expect(parsed.time.toISOString()).toBe(iso);
    }
  });

  test.each([
    ['yesterday', 'is not an ISO-8601 time with a zone'],
    ['2026-12-02T10:00:00', 'has no time zone'],
    ['2026-12-02', 'is not an ISO-8601 time'],
    ['2026-13-02T10:00:00Z', 'is not a valid date and time'],
    ['2026-02-30T10:00:00Z', 'is not a valid date'],
    ['2026-12-02T10:00:00Z; drop table x', 'is not an ISO-8601'],
    ["2026-12-02T10:00:00Z'", 'is not an ISO-8601'],
    ['2026-12-02T10:00:00\0Z', 'is not an ISO-8601'],
    ['2026-12-03T10:00:00Z', 'is in the future'],
  ])('refuses %j', (input, message) => {
    expect(parseRestoreTime(input, now)).toContain(message);
  });
});

const manifest = (id: string, stopTime: string) => ({ id, manifest: { stopTime } as unknown as Manifest });

describe('chooseBackup', () => {
  const all = [
    manifest('a', '2026-12-01T00:00:00Z'),
    manifest('b', '2026-12-02T00:00:00Z'),
    manifest('c', '2026-12-02T06:00:00Z'),
  ];
  test('the newest when no time is given', () => expect(chooseBackup(all, undefined)).toEqual(all[2]));
  test('the newest that ended at or before the time', () => {
    expect(chooseBackup(all, new Date('2026-12-02T05:59:59Z'))).toEqual(all[1]);
    expect(chooseBackup(all, new Date('2026-12-02T06:00:00Z'))).toEqual(all[2]);
  });
  test('none before the oldest', () =>
    expect(chooseBackup(all, new Date('2026-11-30T00:00:00Z'))).toContain('is before the end of the oldest backup'));
  test('none at all', () => expect(chooseBackup([], undefined)).toContain('no complete backup'));
});

describe('baseBackupFilter', () => {
  test.each([
    ['base', true, 'keep'],
    ['base/5/1259', false, 'keep'],
    ['pg_wal', true, 'empty'],
    ['pg_wal/000000010000000000000001', false, 'skip'],
    ['pg_wal/archive_status', true, 'empty'],
    ['pg_replslot/slot', true, 'skip'],
    ['postmaster.pid', false, 'skip'],
    ['postmaster.opts', false, 'skip'],
    ['postgres.log', false, 'skip'],
    ['base/pgsql_tmp', true, 'skip'],
    ['global/pg_internal.init', false, 'skip'],
    ['pg_stat_tmp', true, 'empty'],
    ['postgresql.auto.conf', false, 'keep'],
  ] as const)('%s', (rel, isDir, expected) => expect(baseBackupFilter(rel, isDir)).toBe(expected));
});

describe('tar', () => {
  test('a folder round-trips, empty folders and long paths included', async () => {
    const src = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-tar-src-'));
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-tar-dest-'));
    try {
      const long = `${'d'.repeat(90)}/${'e'.repeat(90)}`;
      await fs.mkdir(path.join(src, long), { recursive: true });
      await fs.mkdir(path.join(src, 'empty'));
      await fs.writeFile(path.join(src, long, 'f'.repeat(80)), Buffer.alloc(1025, 7));
      await fs.writeFile(path.join(src, 'zero'), '');
      const entries = await listTree(src, () => 'keep');
      await extractTar(Readable.from(tarEntries(src, entries)), path.join(dest, 'out'));
      expect((await fs.readFile(path.join(dest, 'out', long, 'f'.repeat(80)))).equals(Buffer.alloc(1025, 7))).toBe(
        true,
      );
      expect((await fs.stat(path.join(dest, 'out', 'empty'))).isDirectory()).toBe(true);
      expect(await fs.readFile(path.join(dest, 'out', 'zero'), 'utf8')).toBe('');
    } finally {
      await fs.rm(src, { recursive: true, force: true });
      await fs.rm(dest, { recursive: true, force: true });
    }
  });

  test.each([
    ['../escape', 'refusing a tar member'],
    ['/etc/passwd', 'refusing a tar member'],
    ['a/../../b', 'refusing a tar member'],
  ])('refuses a member named %j', async (name, message) => {
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-tar-bad-'));
    try {
      const header = tarHeader({ name, type: 'file', mode: 0o600, size: 0, mtime: 0 });
      await expect(extractTar(Readable.from([header, Buffer.alloc(1024)]), dest)).rejects.toThrow(message);
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
  });

  test('a truncated archive or a damaged header is refused', async () => {
    const dest = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-tar-trunc-'));
    try {
      const header = tarHeader({ name: 'f', type: 'file', mode: 0o600, size: 4096, mtime: 0 });
      await expect(extractTar(Readable.from([header, Buffer.alloc(100)]), path.join(dest, 'a'))).rejects.toThrow(
        'ends early',
      );
      const bad = Buffer.from(header);
      bad[0] = 0x41;
      await expect(extractTar(Readable.from([bad, Buffer.alloc(1024)]), path.join(dest, 'b'))).rejects.toThrow(
        'checksum',
      );
    } finally {
      await fs.rm(dest, { recursive: true, force: true });
    }
  });
});

describe('parseManifest', () => {
  test.each([
    ['', 'not valid JSON'],
    ['{}', 'not a Trellis backup manifest'],
    ['{"format":"trellis-backup/1","kind":"embedded"}', 'not a Trellis backup manifest'],
    ['[1,2]', 'not a Trellis backup manifest'],
  ])('refuses %j', (text, message) => expect(parseManifest(text)).toContain(message));
});

describe('storage file names a restore writes', () => {
  test.each([
    ['storage/0a1b/ff/ffee.v1', ['0a1b', 'ff', 'ffee.v1']],
    ['storage/../../etc/cron.d/x', undefined],
    ['storage/a/./b', undefined],
    ['storage/a//b', undefined],
    ['storage/a\\..\\b', undefined],
    ['storage/a\u0000b', undefined],
    ['wal/a', undefined],
  ])('%s', (key, parts) => {
    expect(storageFileParts(key)).toEqual(parts);
  });
});
