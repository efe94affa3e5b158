/** `trellis keys` as a user runs it, and a start refusing signing keys it cannot use. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { freePort } from '../../src/platform/net.js';
import { generateKey } from '../../src/project/key-file.js';
import { runCli, tempProject, type CliResult } from '../helpers/cli.js';

const dirs: string[] = [];
async function project(): Promise<string> {
  const dir = await tempProject();
  dirs.push(dir);
  return dir;
}
afterAll(() => Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true }))));

interface Listed {
  source: string;
  keys: { kid: string; alg: string; status: string }[];
}

async function listed(dir: string, env: Record<string, string> = {}): Promise<Listed> {
  const result = await runCli(['keys', 'list', '--dir', dir, '-o', 'json'], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Listed;
}

function ok(result: CliResult): string {
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

function failure(result: CliResult): string {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0] ?? '';
}

describe('trellis keys', () => {
  test('generate, rotate and revoke keep the key file in the data folder', async () => {
    const dir = await project();
    const file = path.join(dir, '.trellis', 'signing-keys.json');
    expect(ok(await runCli(['keys', 'list', '--dir', dir]))).toMatch(/no signing keys: access tokens are signed HS256/);

    expect(ok(await runCli(['keys', 'generate', '--dir', dir]))).toMatch(/ \(ES256\) signs new tokens/);
    const [first] = (await listed(dir)).keys;
    expect(first).toMatchObject({ alg: 'ES256', status: 'signing' });
    expect((await fs.stat(file)).mode & 0o777).toBe(0o600);

    expect(ok(await runCli(['keys', 'generate', '--alg', 'RS256', '--dir', dir]))).toMatch(/added as a standby key/);
    const standby = (await listed(dir)).keys[1];
    expect(standby).toMatchObject({ alg: 'RS256', status: 'verify only' });

    expect(ok(await runCli(['keys', 'rotate', String(standby?.kid), '--dir', dir]))).toMatch(
      new RegExp(`${standby?.kid} \\(RS256\\) signs new tokens; ${first?.kid} now only verifies`),
    );
    expect((await listed(dir)).keys.map((k) => [k.kid, k.status])).toEqual([
      [standby?.kid, 'signing'],
      [first?.kid, 'verify only'],
    ]);

    // A rotation without a kid makes a new key of the signing key's algorithm.
    ok(await runCli(['keys', 'rotate', '--dir', dir]));
    const afterRotate = (await listed(dir)).keys;
    expect(afterRotate).toHaveLength(3);
    expect(afterRotate[0]).toMatchObject({ alg: 'RS256', status: 'signing' });

    expect(failure(await runCli(['keys', 'revoke', String(afterRotate[0]?.kid), '--dir', dir]))).toMatch(
      /signs new tokens; make another key sign first/,
    );
    expect(ok(await runCli(['keys', 'revoke', String(first?.kid), '--dir', dir]))).toMatch(/revoked/);
    expect((await listed(dir)).keys.map((k) => k.kid)).not.toContain(first?.kid);
    // What is written is the Supabase CLI's format: an array of private JWKs.
    const written = JSON.parse(await fs.readFile(file, 'utf8')) as Record<string, unknown>[];
    expect(written.map((k) => k.key_ops)).toEqual([['sign', 'verify'], ['verify']]);
    expect(written.every((k) => typeof k.d === 'string')).toBe(true);
  });

  test('AUTH_SIGNING_KEYS_PATH is the file the command manages; AUTH_JWT_KEYS cannot be written', async () => {
    const dir = await project();
    const file = path.join(dir, 'keys.json');
    ok(await runCli(['keys', 'generate', '--dir', dir], { AUTH_SIGNING_KEYS_PATH: file }));
    expect(JSON.parse(await fs.readFile(file, 'utf8'))).toHaveLength(1);
    await expect(fs.access(path.join(dir, '.trellis', 'signing-keys.json'))).rejects.toThrow();
    const env = { AUTH_JWT_KEYS: JSON.stringify([generateKey('ES256')]) };
    expect((await listed(dir, env)).source).toBe('AUTH_JWT_KEYS');
    expect(failure(await runCli(['keys', 'generate', '--dir', dir], env))).toMatch(
      /keys: the keys are set by AUTH_JWT_KEYS; change that variable instead/,
    );
  });
});

describe('start refuses signing keys it cannot use, naming where they came from', () => {
  test.each<[string, Record<string, string>, RegExp]>([
    ['AUTH_JWT_KEYS that is not JSON', { AUTH_JWT_KEYS: '[{' }, /^trellis: AUTH_JWT_KEYS: is not valid JSON/],
    ['AUTH_JWT_KEYS that is not an array', { AUTH_JWT_KEYS: '{}' }, /AUTH_JWT_KEYS: must be a JSON array of JWKs/],
    [
      'an HS512 oct key',
      { AUTH_JWT_KEYS: JSON.stringify([{ kty: 'oct', kid: 'h', alg: 'HS512', k: 'a'.repeat(60) }]) },
      /AUTH_JWT_KEYS: key 1 \(kid h\): alg HS512 is not supported for oct keys/,
    ],
    [
      'an EC key whose point is not on the curve',
      { AUTH_JWT_KEYS: JSON.stringify([{ ...generateKey('ES256'), x: 'AAAA' }]) },
      /AUTH_JWT_KEYS: a key cannot be used/,
    ],
    ['a missing AUTH_SIGNING_KEYS_PATH file', { AUTH_SIGNING_KEYS_PATH: '/nonexistent/keys.json' }, /ENOENT/],
  ])('%s', async (_name, env, message) => {
    const dir = await project();
    const line = failure(await runCli(['start', '--dir', dir, '--port', String(await freePort())], env));
    expect(line).toMatch(message);
    await expect(fs.access(path.join(dir, '.trellis', 'pg'))).rejects.toThrow();
  });
});
