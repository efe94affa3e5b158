/** Ctrl-C in the middle of a table's COPY: the move stops and the target is left as it was. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startEmbedded } from '../../src/db/index.js';
import { readSecrets } from '../../src/project/secrets.js';
import { BIN, cliEnv, runCli, tempProject } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { query } from './helpers.js';

describe('trellis move interrupted', () => {
  let dir: string;
  let target: TestDatabase;
  beforeAll(async () => {
    dir = await tempProject({ '20240101000000_big.sql': 'create table big (id int primary key, body text not null);' });
    target = await freshDatabase();
    expect((await runCli(['migrate', '--dir', dir], {}, 60_000)).code).toBe(0);
    const secrets = await readSecrets(path.join(dir, '.trellis'));
    const source = await startEmbedded({
      dataDir: path.join(dir, '.trellis'),
      password: secrets?.dbPassword ?? '',
      onProgress: () => undefined,
    });
    try {
      await query(source.url, `insert into big select g, repeat('x', 200) from generate_series(1, 400000) g`);
    } finally {
      await source.stop();
    }
  }, 120_000);
  afterAll(async () => {
    await target?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('SIGINT during the COPY rolls the data back and removes the schema it made', async () => {
    const child = spawn(process.execPath, [BIN, 'move', '--to', target.url, '--dir', dir], {
      env: cliEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
      // The first progress line of the big table: its COPY is under way.
      if (!signalled && /^public\.big /m.test(stderr)) {
        signalled = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(signalled).toBe(true);
    expect(code).toBe(1);
    expect(stderr).toContain('trellis: SIGINT: stopping, and removing what the move made on the target');
    expect(stderr).toMatch(/trellis: interrupted by SIGINT; the target is left as it was\n$/);
    expect(stdout).toMatch(/removed from the target what the move had made: .*schema trellis/);
    expect(
      await query(
        target.url,
        `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`,
      ),
    ).toEqual([{ n: 0 }]);
    // The embedded database started for the move was stopped again: a start finds no orphan.
    expect(await fs.stat(path.join(dir, '.trellis', 'pg', 'postmaster.pid')).catch(() => undefined)).toBeUndefined();
  }, 120_000);
});
