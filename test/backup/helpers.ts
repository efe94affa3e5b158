/** Shared by the backup tests: the CLI in a project folder, and reading what a target holds. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { BIN, cliEnv, runCli, type CliResult } from '../helpers/cli.js';

export const trellis = (args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<CliResult> =>
  runCli(args, env, timeoutMs);

/** Backup ids (complete or not) in a folder target. */
export async function folderBackups(target: string): Promise<string[]> {
  return (await fs.readdir(target).catch(() => [] as string[]))
    .filter((n) => /^\d{8}T\d{9}Z(\.partial)?$/.test(n))
    .sort();
}

/** Runs `trellis backup` and kills it with SIGKILL once its staging folder has appeared and `afterMs` passed. */
export async function killBackupHalfway(
  dir: string,
  target: string,
  env: Record<string, string>,
  afterMs: number,
): Promise<string> {
  const child = spawn(process.execPath, [BIN, 'backup', '--dir', dir], {
    env: cliEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const partial = (await folderBackups(target)).find((n) => n.endsWith('.partial'));
    if (partial) {
      await new Promise((r) => setTimeout(r, afterMs));
      child.kill('SIGKILL');
      await exited;
      return partial;
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`backup ended before it could be killed:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function withPg<T>(url: string, work: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function statusOf(
  dir: string,
): Promise<{ API_URL: string; DB_URL: string; SERVICE_ROLE_KEY: string; ANON_KEY: string }> {
  const r = await trellis(['status', '--dir', dir, '-o', 'json']);
  if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { API_URL: string; DB_URL: string; SERVICE_ROLE_KEY: string; ANON_KEY: string };
}

export const backupDir = (dir: string) => path.join(dir, 'backups');
