/**
 * `trellis move --to` an embedded project onto the machine's PostgreSQL server, then a Trellis
 * started there with DATABASE_URL serves the same users, rows and files; and `--from` back into a
 * new embedded project.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, startCli, tempProject } from '../helpers/cli.js';
import { adminUrl, freshDatabase, type TestDatabase } from '../helpers/db.js';
import { MIGRATIONS, client, query, statusOf, userWithNotes, type Status } from './helpers.js';

describe('trellis move --to a server and --from it back', () => {
  let dir: string;
  let back: string;
  let target: TestDatabase;
  let before: Status;
  let alice: { id: string; accessToken: string; refreshToken: string };
  const file = 'hello from before the move\n'.repeat(1000);

  beforeAll(async () => {
    dir = await tempProject(MIGRATIONS);
    back = await tempProject(MIGRATIONS);
    target = await freshDatabase();
    const server = await startCli(dir);
    try {
      before = await statusOf(dir);
      alice = await userWithNotes(before, 'alice', ['first', 'second', 'third']);
      await userWithNotes(before, 'bob', ['bob only']);
      // A queue made from SQL, not by a migration (as Supabase's dashboard makes them), with a message waiting.
      await query(before.DB_URL, `select pgmq.create('outbox'); select pgmq.send('outbox', '{"n": 1}')`);
      const upload = await client(before, before.SERVICE_ROLE_KEY)
        .storage.from('docs')
        .upload(`${alice.id}/hello.txt`, new Blob([file], { type: 'text/plain' }));
      expect(upload.error).toBeNull();

      const refused = await runCli(['move', '--to', target.url, '--dir', dir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^trellis: Trellis \(pid \d+\) is running on .*--follow.*--yes/);
      expect(await query(target.url, `select count(*)::int as n from pg_namespace where nspname = 'auth'`)).toEqual([
        { n: 0 },
      ]);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  }, 120_000);

  afterAll(async () => {
    await target?.drop();
    for (const d of [dir, back]) if (d) await fs.rm(d, { recursive: true, force: true });
  });

  test('copies every table, verifies digests and prints the next steps', async () => {
    const moved = await runCli(['move', '--to', target.url, '--dir', dir], {}, 120_000);
    expect(moved.stderr).not.toContain('trellis:');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/verified: \d+ tables, \d+ rows, identical on both sides; \d+ sequences set/);
    expect(moved.stdout).not.toContain('DIFFERS');
    expect(moved.stdout).toMatch(/auth\.users\s+2\s+2\s/);
    expect(moved.stdout).toMatch(/public\.notes\s+4\s+4\s/);
    expect(moved.stdout).toMatch(/public\.profiles\s+2\s+2\s/);
    expect(moved.stdout).toContain('DATABASE_URL=');
    expect(moved.stdout).toContain('secrets.json');
    // The progress lines go to stderr, one per table.
    expect(moved.stderr).toMatch(/public\.notes .*4 rows/);
    expect(await query(target.url, `select k from "odd ""name""; drop table notes"`)).toEqual([
      { k: 'from the migration' },
    ]);
    expect(await query(target.url, 'select message from pgmq.q_outbox')).toEqual([{ message: { n: 1 } }]);
    expect(await query(target.url, 'select queue_name from pgmq.meta')).toEqual([{ queue_name: 'outbox' }]);
    expect(await query(target.url, 'select notes from note_counts order by notes')).toEqual([
      { notes: 1 },
      { notes: 3 },
    ]);
    const versions = await query<{ version: string }>(
      target.url,
      'select version from supabase_migrations.schema_migrations',
    );
    expect(versions).toEqual([{ version: '20240101000000' }]);
  }, 150_000);

  test('Trellis on the server signs in, reads under RLS, inserts, downloads, honours old tokens', async () => {
    const server = await startCli(dir, { DATABASE_URL: target.url });
    try {
      const now = await statusOf(dir);
      expect(now.ANON_KEY).toBe(before.ANON_KEY);
      const c = client(now);
      const signedIn = await c.auth.signInWithPassword({ email: 'alice@example.com', password: 'alice password 1' });
      expect(signedIn.error).toBeNull();
      const notes = await c.from('notes').select('body, mood').order('id');
      expect(notes.error).toBeNull();
      expect(notes.data).toEqual([
        { body: 'first', mood: 'sad' },
        { body: 'second', mood: 'sad' },
        { body: 'third', mood: 'sad' },
      ]);
      const inserted = await c.from('notes').insert({ body: 'after the move' }).select('id').single();
      expect(inserted.error).toBeNull();
      expect((inserted.data as { id: number }).id).toBe(5);
      const tag = await c
        .from('tags')
        .insert({ note_id: (inserted.data as { id: number }).id, label: 'x' })
        .select('id')
        .single();
      expect(tag.error).toBeNull();
      expect((tag.data as { id: number }).id).toBe(5);
      const download = await c.storage.from('docs').download(`${alice.id}/hello.txt`);
      expect(download.error).toBeNull();
      expect(await download.data?.text()).toBe(file);

      const old = client(now, now.ANON_KEY, alice.accessToken);
      const oldRead = await old.from('notes').select('body').order('id');
      expect(oldRead.error).toBeNull();
      expect(oldRead.data?.map((n) => n.body)).toEqual(['first', 'second', 'third', 'after the move']);
      // The profile trigger is on again after the copy: a new user gets one.
      const dave = await client(now).auth.signUp({ email: 'dave@example.com', password: 'dave password 1' });
      expect(dave.error).toBeNull();
      expect(await query(target.url, 'select email from profiles order by email')).toEqual([
        { email: 'alice@example.com' },
        { email: 'bob@example.com' },
        { email: 'dave@example.com' },
      ]);
      const refreshed = await client(now).auth.refreshSession({ refresh_token: alice.refreshToken });
      expect(refreshed.error).toBeNull();
      expect(refreshed.data.user?.id).toBe(alice.id);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  }, 120_000);

  test('a target owned by a user who is not a superuser (as on managed servers) gets the same digests', async () => {
    const role = `trellis_move_owner_${crypto.randomBytes(4).toString('hex')}`;
    const database = `${role}_db`;
    await query(adminUrl(), `create role ${role} login createrole password 'owner-password'`);
    await query(adminUrl(), `create database ${database} owner ${role}`);
    const url = new URL(adminUrl());
    url.username = role;
    url.password = 'owner-password';
    url.pathname = `/${database}`;
    try {
      const moved = await runCli(['move', '--to', url.toString(), '--dir', dir], {}, 120_000);
      expect(moved.stderr).not.toContain('trellis:');
      expect(moved.code).toBe(0);
      expect(moved.stdout).toMatch(/verified: \d+ tables/);
      expect(moved.stdout).toMatch(/public\.notes\s+4\s+4\s/);
      expect(await query(url.toString(), 'select count(*)::int as n from auth.users')).toEqual([{ n: 2 }]);
    } finally {
      await query(adminUrl(), `drop database if exists ${database} with (force)`);
      await query(adminUrl(), `drop role if exists ${role}`);
    }
  }, 150_000);

  test('--from the server into a new embedded project gives identical digests and a working Trellis', async () => {
    const moved = await runCli(['move', '--from', target.url, '--dir', back], {}, 120_000);
    expect(moved.stderr).not.toContain('trellis:');
    expect(moved.code).toBe(0);
    expect(moved.stdout).toMatch(/verified: \d+ tables/);
    expect(moved.stdout).toMatch(/public\.notes\s+5\s+5\s/);
    expect(moved.stdout).toContain(`trellis start --dir ${back}`);
    // The embedded project serves it: alice signs in with her password and reads her notes.
    const server = await startCli(back);
    try {
      const c = client(await statusOf(back));
      expect(
        (await c.auth.signInWithPassword({ email: 'alice@example.com', password: 'alice password 1' })).error,
      ).toBeNull();
      const notes = await c.from('notes').select('body').order('id');
      expect(notes.data?.map((n) => n.body)).toEqual(['first', 'second', 'third', 'after the move']);
      expect((await c.from('notes').insert({ body: 'back home' }).select('id').single()).data).toEqual({ id: 6 });
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
    // A second --from into the same, now full, embedded database is refused and changes nothing.
    const again = await runCli(['move', '--from', target.url, '--dir', back], {}, 60_000);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      /^trellis: the embedded database in .* already holds project data \(schema auth, .*; a move needs an empty database: move that folder aside first \(mv /,
    );
    expect(await fs.stat(path.join(back, '.trellis', 'pg', 'PG_VERSION'))).toBeTruthy();
  }, 150_000);
});
