/** Constraints on the target: a cycle of foreign keys (superuser or refused), a row the target refuses (all undone). */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, tempProject } from '../helpers/cli.js';
import { adminUrl, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { query } from './helpers.js';

const CYCLE = {
  '20240101000000_cycle.sql': `
create table teams (id int primary key, captain int);
create table players (id int primary key, team int not null references teams (id));
alter table teams add foreign key (captain) references players (id);
insert into teams values (1, null);
insert into players values (10, 1), (11, 1);
update teams set captain = 10;
`,
};

describe('trellis move with a cycle of foreign keys', () => {
  let dir: string;
  let target: TestDatabase;
  beforeAll(async () => {
    dir = await tempProject(CYCLE);
    target = await freshDatabase();
    const migrated = await runCli(['migrate', '--dir', dir], {}, 60_000);
    expect(migrated.code).toBe(0);
  }, 90_000);
  afterAll(async () => {
    await target?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('a superuser target loads it with session_replication_role = replica', async () => {
    const moved = await runCli(['move', '--to', target.url, '--dir', dir], {}, 120_000);
    expect(moved.stderr).not.toContain('trellis:');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/public\.players\s+2\s+2\s/);
    expect(await query(target.url, 'select captain from teams')).toEqual([{ captain: 10 }]);
  }, 120_000);

  test('a target owned by a user who is not a superuser is refused, naming the tables, and left empty', async () => {
    const role = `trellis_move_cycle_${crypto.randomBytes(4).toString('hex')}`;
    await query(adminUrl(), `create role ${role} login createrole password 'owner-password'`);
    await query(adminUrl(), `create database ${role} owner ${role}`);
    const url = new URL(adminUrl());
    url.username = role;
    url.password = 'owner-password';
    url.pathname = `/${role}`;
    try {
      const moved = await runCli(['move', '--to', url.toString(), '--dir', dir], {}, 120_000);
      expect(moved.code).toBe(1);
      expect(moved.stderr).toMatch(
        /^trellis: foreign keys between public\.players, public\.teams form a cycle, which loads only as a superuser/,
      );
      expect(
        await query(url.toString(), `select count(*)::int as n from pg_namespace where nspname in ('auth', 'trellis')`),
      ).toEqual([{ n: 0 }]);
    } finally {
      await query(adminUrl(), `drop database if exists ${role} with (force)`);
      await query(adminUrl(), `drop role if exists ${role}`);
    }
  }, 120_000);
});

describe('trellis move when a row cannot be loaded on the target', () => {
  let dir: string;
  let target: TestDatabase;
  beforeAll(async () => {
    // A NOT VALID check leaves old rows that break it: the target checks every copied row.
    dir = await tempProject({
      '20240101000000_prices.sql': `create table prices (id int primary key, cents int not null);
insert into prices values (1, 100), (2, -5);`,
      '20240102000000_positive.sql': `alter table prices add constraint positive check (cents >= 0) not valid;`,
    });
    target = await freshDatabase();
    expect((await runCli(['migrate', '--dir', dir], {}, 60_000)).code).toBe(0);
  }, 90_000);
  afterAll(async () => {
    await target?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  test('the failure names the table and the reason, and the target is left as it was', async () => {
    const moved = await runCli(['move', '--to', target.url, '--dir', dir], {}, 120_000);
    expect(moved.code).toBe(1);
    expect(moved.stderr).toMatch(/trellis: copying public\.prices failed: .*violates check constraint "positive"/);
    expect(moved.stdout).toMatch(/removed from the target what the move had made: .*schema trellis/);
    expect(
      await query(
        target.url,
        `select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
          where n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')`,
      ),
    ).toEqual([{ n: 0 }]);
  }, 120_000);
});
