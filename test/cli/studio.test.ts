/** `trellis studio passwd`: a password from standard input, or a random one printed once. */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { checkStudioPassword, readStudioSecret } from '../../src/project/studio-password.js';
import { BIN, cliEnv } from '../helpers/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-studio-cli-'));
  await fs.mkdir(path.join(dir, '.trellis'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function passwd(stdin: string | undefined, extra: string[] = []) {
  return new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, 'studio', 'passwd', '--dir', dir, ...extra], { env: cliEnv() });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
    child.stdin.end(stdin ?? '');
  });
}

test('a password on standard input replaces the old one and the session key', async () => {
  expect((await passwd('first-password\n')).code).toBe(0);
  const first = await readStudioSecret(path.join(dir, '.trellis'));
  expect(first && (await checkStudioPassword(first, 'first-password'))).toBe(true);
  const result = await passwd('second-password\n');
  expect(result.code).toBe(0);
  expect(result.out).not.toMatch(/second-password/);
  const second = await readStudioSecret(path.join(dir, '.trellis'));
  expect(second && (await checkStudioPassword(second, 'second-password'))).toBe(true);
  expect(second && (await checkStudioPassword(second, 'first-password'))).toBe(false);
  expect(second?.sessionKey).not.toBe(first?.sessionKey);
  expect((await fs.stat(path.join(dir, '.trellis', 'studio.json'))).mode & 0o777).toBe(0o600);
});

test('nothing on standard input: a random password, printed once', async () => {
  const result = await passwd(undefined);
  expect(result.code).toBe(0);
  const printed = /New Studio password: (\S+)/.exec(result.out)?.[1] ?? '';
  const secret = await readStudioSecret(path.join(dir, '.trellis'));
  expect(secret && (await checkStudioPassword(secret, printed))).toBe(true);
});

test('a short password and an unknown subcommand are refused', async () => {
  const short = await passwd('short\n');
  expect(short.code).toBe(1);
  expect(short.err).toMatch(/at least 8 characters/);
  const unknown = await new Promise<number | null>((resolve) =>
    spawn(process.execPath, [BIN, 'studio', 'reset'], { env: cliEnv() }).on('close', resolve),
  );
  expect(unknown).toBe(1);
});
