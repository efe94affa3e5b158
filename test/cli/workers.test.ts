/**
 * `trellis start --workers N` failing and stopping: a worker that cannot bind stops the start
 * with exit 1 and the database with it; SIGTERM while the database starts stops everything with
 * exit 0; a bad --workers value is refused before anything starts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { BIN, cliEnv, freePort, runCli, tempProject } from '../helpers/cli.js';

let dir: string;
beforeAll(async () => {
  dir = await tempProject();
});
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

test('a port in use makes the workers fail and the start exit 1, leaving no database running', async () => {
  const busy = net.createServer();
  const port = await new Promise<number>((resolve) =>
    busy.listen(0, '127.0.0.1', () => resolve((busy.address() as net.AddressInfo).port)),
  );
  try {
    const result = await runCli(['start', '--dir', dir, '--port', String(port), '--workers', '2'], {}, 60_000);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/a worker exited during the start/);
    expect(result.stderr).toMatch(/already in use/);
  } finally {
    busy.close();
  }
  // The data folder is free again, and the embedded database stopped.
  await expect(fs.access(path.join(dir, '.trellis', 'trellis.pid'))).rejects.toThrow();
  expect(await fs.readFile(path.join(dir, '.trellis', 'pg', 'postmaster.pid'), 'utf8').catch(() => '')).toBe('');
});

test('SIGTERM during the start stops workers and database with exit 0', async () => {
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--port', String(port), '--workers', '2'], {
    env: cliEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  // The workers bind first: /health answers while the database is still starting.
  let up = false;
  for (const deadline = Date.now() + 60_000; !up && Date.now() < deadline;) {
    up = await fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (!up) await new Promise((r) => setTimeout(r, 25));
  }
  expect(up).toBe(true);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  expect(output).not.toContain('Trellis is running');
  await expect(fs.access(path.join(dir, '.trellis', 'trellis.pid'))).rejects.toThrow();
});

test.each([['0'], ['many'], ['100']])('--workers %s is refused with the flag named', async (value) => {
  const result = await runCli(['start', '--dir', dir, '--workers', value]);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/^trellis: --workers: must be auto or a whole number between 1 and 64/);
});
