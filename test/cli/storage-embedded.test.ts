/**
 * `trellis storage` on a folder no Trellis is serving starts the embedded database for itself, and
 * stops it again: no postmaster of the folder outlives the command, whether it succeeded or failed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { runCli, tempProject } from '../helpers/cli.js';

const postmasterOf = (dir: string) => fs.existsSync(path.join(dir, '.trellis', 'pg', 'postmaster.pid'));

test('the embedded database a storage command started is stopped when it ends', async () => {
  const dir = await tempProject();
  // Refused (no storage tables yet: never migrated), after it started the database.
  const refused = await runCli(['storage', 'keys', 'list', '--dir', dir], {}, 120_000);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/no storage tables yet/);
  expect(postmasterOf(dir)).toBe(false);
  // Migrated, then a command that succeeds.
  expect((await runCli(['migrate', '--dir', dir], {}, 120_000)).code).toBe(0);
  const listed = await runCli(['storage', 'keys', 'list', '--dir', dir], {}, 120_000);
  expect(listed.code).toBe(0);
  expect(postmasterOf(dir)).toBe(false);
}, 240_000);
