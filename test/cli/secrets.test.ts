/** `trellis secrets` as a user runs it: set, list (digests, never values), unset, bad input. */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { runCli, tempProject, type CliResult } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

function ok(result: CliResult): string {
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

function failure(result: CliResult): string {
  expect(result.code).toBe(1);
  return result.stderr.trim();
}

test('set, list and unset keep the secrets in the data folder, 0600', async () => {
  const dir = await tempProject();
  dirs.push(dir);
  expect(ok(await runCli(['secrets', 'list', '--dir', dir]))).toBe('no secrets\n');
  expect(ok(await runCli(['secrets', 'set', 'STRIPE_KEY=sk_1=2', 'OTHER=x', '--dir', dir]))).toMatch(
    /^set STRIPE_KEY, OTHER/,
  );
  const file = path.join(dir, '.trellis', 'function-secrets.json');
  expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({ OTHER: 'x', STRIPE_KEY: 'sk_1=2' });
  expect((await fs.stat(file)).mode & 0o777).toBe(0o600);
  const listed = JSON.parse(ok(await runCli(['secrets', 'list', '--dir', dir, '-o', 'json']))) as unknown;
  const sha = (v: string) => crypto.createHash('sha256').update(v).digest('hex');
  expect(listed).toEqual([
    { name: 'OTHER', digest: sha('x') },
    { name: 'STRIPE_KEY', digest: sha('sk_1=2') },
  ]);
  expect(ok(await runCli(['secrets', 'list', '--dir', dir]))).not.toContain('sk_1');
  ok(await runCli(['secrets', 'unset', 'OTHER', '--dir', dir]));
  expect(JSON.parse(await fs.readFile(file, 'utf8'))).toEqual({ STRIPE_KEY: 'sk_1=2' });
});

test.each([
  [['set', 'NOVALUE'], /"NOVALUE" is not NAME=value/],
  [['set', '=x'], /"=x" is not NAME=value/],
  [['set', '1BAD=x'], /not a secret name/],
  [['set', 'SUPABASE_URL=x'], /reserved/],
  [['set'], /what to set/],
  [['unset', 'NEVER_SET'], /no secret named NEVER_SET/],
  [['rotate'], /unknown secrets command "rotate"/],
  [['list', '--bogus'], /bogus/],
])('secrets %j fails with one line', async (args, message) => {
  const dir = await tempProject();
  dirs.push(dir);
  expect(failure(await runCli(['secrets', ...args, '--dir', dir]))).toMatch(message);
});
