/** Bad backup commands and settings: one line naming what is wrong, exit code 1. */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startCli, tempProject } from '../helpers/cli.js';
import { trellis } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await tempProject();
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

test.each([
  [['backup', 'frobnicate'], {}, 'unknown backup command "frobnicate" (commands: create, list, verify, prune)'],
  [['backup', '--bogus'], {}, "Unknown option '--bogus'"],
  [['backup', 'list'], { BACKUP_TARGET: 's3://' }, 'BACKUP_TARGET: must be a folder path or s3://bucket/prefix'],
  [['backup', 'list'], { BACKUP_KEEP: '0' }, 'BACKUP_KEEP: must be a whole number between 1 and 10000'],
  [['backup', 'list'], { BACKUP_ARCHIVE_TIMEOUT: 'soon' }, 'BACKUP_ARCHIVE_TIMEOUT: must be a whole number'],
  [['backup', 'list'], { BACKUP_S3_ENDPOINT: 'ftp://x' }, 'BACKUP_S3_ENDPOINT: must be an http:// or https:// URL'],
  [['backup', 'verify'], {}, 'is not a backup folder'],
  [['backup'], {}, 'no database in'],
  [
    ['restore', '--from', '/nonexistent/x', '--dir', '/tmp/x', '--db-url', 'mysql://x'],
    {},
    '--db-url: must be a postgres://',
  ],
])('%j %j', async (args, env, message) => {
  const r = await trellis([...args, '--dir', dir], env);
  expect(r.code).toBe(1);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toContain(message);
});

test('a BACKUP_SCHEDULE that is not a cron expression fails the start', async () => {
  await expect(startCli(dir, { BACKUP_SCHEDULE: 'every tuesday' })).rejects.toThrow(
    /BACKUP_SCHEDULE: "every tuesday" is not a cron expression/,
  );
}, 60_000);
