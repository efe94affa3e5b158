/**
 * `--follow` when the target server cannot reach the source: the subscription fails with a clear
 * line, and both sides lose what the move made (slot and publication on the source, all on the target).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { startEmbedded, type EmbeddedDatabase } from '../../src/db/index.js';
import { moveDatabase } from '../../src/move/index.js';
import { readSecrets } from '../../src/project/secrets.js';
import { runCli, tempProject } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { MIGRATIONS, query } from './helpers.js';

describe('trellis move --follow to a target that cannot reach the source', () => {
  let dir: string;
  let target: TestDatabase;
  let source: EmbeddedDatabase;

  beforeAll(async () => {
    dir = await tempProject(MIGRATIONS);
    target = await freshDatabase();
    expect((await runCli(['migrate', '--dir', dir], {}, 60_000)).code).toBe(0);
    const secrets = await readSecrets(path.join(dir, '.trellis'));
    source = await startEmbedded({
      dataDir: path.join(dir, '.trellis'),
      password: secrets?.dbPassword ?? '',
      onProgress: () => undefined,
    });
  }, 90_000);
  afterAll(async () => {
    await source?.stop();
    await target?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('fails naming the address, with its password hidden, and undoes both sides', async () => {
    const config = loadConfig({ dir });
    const said: string[] = [];
    const unreachable = 'postgres://postgres:not-the-password@127.0.0.1:1/postgres';
    const moving = moveDatabase({
      source: { url: source.url, label: 'source database' },
      target: { url: target.url, label: 'target database' },
      migrationsDir: config.migrationsDir,
      pool: config.pool,
      follow: { sourceConnInfo: unreachable },
      report: {
        say: (line) => said.push(line),
        progress: () => ({ tick: () => undefined, done: () => undefined, fail: () => undefined }),
      },
    });
    const error = await moving.then(
      () => undefined,
      (err: unknown) => err as Error,
    );
    expect(error?.message).toMatch(
      /^the target cannot subscribe to the source at postgres:\/\/postgres:\*\*\*\*\*@127\.0\.0\.1:1\/postgres: could not connect to the publisher: .*--follow needs a target server that can reach the source/,
    );
    expect(error?.message).not.toContain('not-the-password');
    expect(said.join('\n')).toMatch(/removed from the target what the move had made: .*schema auth/);
    expect(
      await query(
        source.url,
        `select (select count(*) from pg_replication_slots where slot_name = 'trellis_move')::int as slots,
                (select count(*) from pg_publication where pubname = 'trellis_move')::int as publications`,
      ),
    ).toEqual([{ slots: 0, publications: 0 }]);
    expect(
      await query(target.url, `select count(*)::int as n from pg_namespace where nspname in ('auth', 'trellis')`),
    ).toEqual([{ n: 0 }]);
  }, 120_000);
});
