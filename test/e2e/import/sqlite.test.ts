/**
 * The "done when": a SQLite file shaped like seed 003 (users with bcrypt hashes, rooms,
 * messages, contacts) is imported into a running Trellis; with the policies a project would write,
 * supabase-js reads it as an imported user who signs in with their old password.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { ADA, BOB, chatDatabase, tempDir } from '../../helpers/sqlite-chat.js';

let server: TestServer;
let work: string;
let imported: CliResult;

beforeAll(async () => {
  server = await startTestServer();
  work = await tempDir('trellis-import-e2e-');
  const file = chatDatabase(path.join(work, 'amebo.db'));
  imported = await runCli(
    [
      'import',
      file,
      '--dir',
      server.dir,
      '--users-table',
      'users',
      '--email-column',
      'email',
      '--password-column',
      'password_hash',
    ],
    { DATABASE_URL: server.databaseUrl },
    60_000,
  );
});
afterAll(async () => {
  await server?.stop();
  await fs.rm(work, { recursive: true, force: true });
});

describe('a SQLite chat app imported into a running Trellis', () => {
  test('the import succeeds and prints its decisions and next steps', () => {
    expect(imported.stderr).toContain('messages 3 rows');
    expect(imported.code).toBe(0);
    expect(imported.stdout).toContain('Imported 4 tables (8 rows) into schema public, and 2 users into auth.users');
    expect(imported.stdout).toContain('"password_hash": moved to auth.users.encrypted_password');
    expect(imported.stdout).toContain(
      'create policy "signed-in users read their rows" on "public"."messages" for select to authenticated using ("sender_id" = auth.uid());',
    );
  });

  test('row level security is on with no policy: the anon key reads nothing', async () => {
    const anon = supabaseClient(server);
    for (const table of ['users', 'rooms', 'messages', 'contacts']) {
      const { data, error } = await anon.from(table).select('*');
      expect(error).toBeNull();
      expect(data).toEqual([]);
    }
  });

  test('with policies, an imported user signs in with the old bcrypt password and sees only their rows', async () => {
    await server.sql.query(`
      create policy "own profile" on public.users for select to authenticated using (id = auth.uid());
      create policy "own messages" on public.messages for select to authenticated using (sender_id = auth.uid());
      create policy "send as yourself" on public.messages for insert to authenticated with check (sender_id = auth.uid());
      create policy "rooms are public to members" on public.rooms for select to authenticated using (true);
      notify pgrst, 'reload schema';`);
    const ada = supabaseClient(server);
    const signedIn = await ada.auth.signInWithPassword({ email: ADA.email, password: ADA.password });
    expect(signedIn.error).toBeNull();
    expect(signedIn.data.user?.id).toBe(ADA.id);
    expect(signedIn.data.user?.email_confirmed_at).toBeTruthy();

    const me = await ada.from('users').select('*');
    expect(me.error).toBeNull();
    expect(me.data).toHaveLength(1);
    expect(me.data?.[0]).toMatchObject({
      id: ADA.id,
      username: 'ada',
      email: ' Ada@Example.com',
      searchable: true,
      settings: { theme: 'dark' },
    });
    expect(me.data?.[0]).not.toHaveProperty('password_hash');
    expect(me.data?.[0].created_at).toBe('2025-11-01T09:00:00+00:00');

    const mine = await ada.from('messages').select('id, body, is_file, rooms(room_code)').order('id');
    expect(mine.error).toBeNull();
    expect(mine.data).toEqual([{ id: 1, body: 'hello everyone', is_file: false, rooms: { room_code: 'general' } }]);

    // The identity sequence was set past the imported ids: a new message takes id 4.
    const sent = await ada
      .from('messages')
      .insert({ room_id: 1, sender_id: ADA.id, body: 'after the move' })
      .select('id')
      .single();
    expect(sent.error).toBeNull();
    expect(sent.data).toEqual({ id: 4 });
    const spoof = await ada.from('messages').insert({ room_id: 1, sender_id: BOB.id, body: 'as bob' });
    expect(spoof.error?.code).toBe('42501');
  });

  test('the other user signs in too; a wrong password does not', async () => {
    const bob = supabaseClient(server);
    const wrong = await bob.auth.signInWithPassword({ email: BOB.email, password: 'not-it' });
    expect(wrong.error?.message).toMatch(/Invalid login credentials/);
    const right = await bob.auth.signInWithPassword({ email: BOB.email, password: BOB.password });
    expect(right.error).toBeNull();
    const mine = await bob.from('messages').select('body').order('id');
    expect(mine.data).toEqual([{ body: 'hi ada' }, { body: 'photo.png' }]);
  });

  test('foreign keys hold: deleting a room cascades to its messages, as in SQLite', async () => {
    const before = await server.sql.query(`select count(*)::int as n from public.messages where room_id = 2`);
    expect(before.rows[0].n).toBe(1);
    await server.sql.query(`delete from public.rooms where id = 2`);
    const after = await server.sql.query(`select count(*)::int as n from public.messages where room_id = 2`);
    expect(after.rows[0].n).toBe(0);
    await expect(
      server.sql.query(`insert into public.messages (room_id, sender_id, body) values (99, $1, 'x')`, [ADA.id]),
    ).rejects.toThrow(/foreign key/);
  });
});
