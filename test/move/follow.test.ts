/**
 * `trellis move --follow` keeps the server database in step with the running embedded project by
 * logical replication; `--finish` after the server stops carries the last writes and the sequences.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, startCli, tempProject } from '../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { MIGRATIONS, client, query, statusOf, userWithNotes } from './helpers.js';

describe('trellis move --follow, then --finish', () => {
  let dir: string;
  let target: TestDatabase;

  beforeAll(async () => {
    dir = await tempProject(MIGRATIONS);
    target = await freshDatabase();
  });
  afterAll(async () => {
    // A test that failed half way leaves the subscription, which keeps the database from being dropped.
    for (const sql of [
      'alter subscription trellis_move disable',
      'alter subscription trellis_move set (slot_name = none)',
      'drop subscription trellis_move',
    ])
      await query(target.url, sql).catch(() => undefined);
    await target?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('writes made while following reach the target; finish verifies and advances sequences', async () => {
    const server = await startCli(dir);
    try {
      const status = await statusOf(dir);
      const alice = await userWithNotes(status, 'alice', ['before the copy']);
      const followed = await runCli(['move', '--to', target.url, '--dir', dir, '--follow'], {}, 120_000);
      expect(followed.stderr).not.toContain('trellis:');
      expect(followed.code).toBe(0);
      expect(followed.stdout).toContain('The target now follows the source');
      expect(followed.stdout).toContain('trellis move --finish');

      // The app keeps serving: a new user and new rows, an update and a delete.
      const c = client(status, status.ANON_KEY, alice.accessToken);
      expect((await c.from('notes').insert({ body: 'while following' })).error).toBeNull();
      expect(
        (await c.from('notes').update({ body: 'edited while following' }).eq('body', 'before the copy')).error,
      ).toBeNull();
      await userWithNotes(status, 'carol', ['carol after the copy']);

      // --yes moves a copy while the server runs (its writes meanwhile are not carried).
      const copy = await freshDatabase();
      try {
        const plain = await runCli(['move', '--to', copy.url, '--dir', dir, '--yes'], {}, 120_000);
        expect(plain.stderr).not.toContain('trellis:');
        expect(plain.code).toBe(0);
        expect(plain.stdout).toMatch(/public\.notes\s+3\s+3\s/);
        expect(plain.stdout).toContain(`stop the Trellis running on ${dir}, then`);
      } finally {
        await copy.drop();
      }

      const back = await runCli(['move', '--from', target.url, '--dir', dir], {}, 60_000);
      expect(back.code).toBe(1);
      expect(back.stderr).toMatch(
        /^trellis: Trellis \(pid \d+\) is running on .*: stop it before moving its database back\n$/,
      );

      const early = await runCli(['move', '--finish', '--to', target.url, '--dir', dir], {}, 60_000);
      expect(early.code).toBe(1);
      expect(early.stderr).toMatch(/^trellis: Trellis \(pid \d+\) is still running on .*stop it first/);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }

    // The embedded database starts again on another port: --finish points the subscription there.
    const finished = await runCli(['move', '--finish', '--to', target.url, '--dir', dir], {}, 180_000);
    expect(finished.stderr).not.toContain('trellis:');
    expect(finished.code).toBe(0);
    expect(finished.stdout).toContain('the target has caught up');
    expect(finished.stdout).toMatch(/verified: \d+ tables/);
    expect(finished.stdout).toMatch(/public\.notes\s+3\s+3\s/);
    expect(await query(target.url, 'select body from notes order by id')).toEqual([
      { body: 'edited while following' },
      { body: 'while following' },
      { body: 'carol after the copy' },
    ]);
    expect(
      await query(
        target.url,
        `select count(*)::int as n from pg_subscription where subdbid = (select oid from pg_database where datname = current_database())`,
      ),
    ).toEqual([{ n: 0 }]);
    // Sequences came over too: the next note is number 4.
    expect(await query(target.url, `select nextval(pg_get_serial_sequence('notes', 'id'))::int as n`)).toEqual([
      { n: 4 },
    ]);

    const again = await runCli(['move', '--finish', '--to', target.url, '--dir', dir], {}, 60_000);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no subscription trellis_move/);
  }, 300_000);
});
