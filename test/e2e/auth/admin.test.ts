/**
 * The admin API through `supabase.auth.admin.*` with the service_role key: users, bans, deletion
 * with the project's foreign keys, generated links, invites by mail, and refusal for anyone else.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { hash as bcryptHash } from '@node-rs/bcrypt';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { linkAndCode, startMailSink, type MailSink } from '../../helpers/smtp.js';

let server: TestServer;
let sink: MailSink;
let admin: SupabaseClient;
// Clients keep no session and never refresh on their own (see supabaseClient).
const client = (): SupabaseClient => supabaseClient(server);

beforeAll(async () => {
  sink = await startMailSink();
  server = await startTestServer({
    env: { SMTP_URL: sink.url },
    migrations: {
      '20240101000000_profiles.sql': `
        create table public.profiles (id uuid primary key references auth.users (id) on delete cascade, name text);
        create function public.handle_new_user() returns trigger language plpgsql security definer set search_path = '' as $$
        begin
          insert into public.profiles (id, name) values (new.id, new.raw_user_meta_data ->> 'name');
          return new;
        end $$;
        create trigger on_auth_user_created after insert on auth.users for each row execute procedure public.handle_new_user();
      `,
    },
  });
  admin = supabaseClient(server, server.serviceRoleKey);
});
afterAll(async () => {
  await server?.stop();
  await sink?.close();
});

/** GET /user with the client's access token; auth-js turns session_not_found into AuthSessionMissingError. */
async function userStatus(supabase: SupabaseClient): Promise<number> {
  const token = (await supabase.auth.getSession()).data.session?.access_token;
  const response = await fetch(`${server.url}/auth/v1/user`, {
    headers: { apikey: server.anonKey, authorization: `Bearer ${token}` },
  });
  return response.status;
}

async function count(sql: string, values: unknown[]): Promise<number> {
  return Number((await server.sql.query<{ n: string }>(`select count(*) as n from ${sql}`, values)).rows[0]?.n);
}

describe('creating and reading users', () => {
  test('createUser with email_confirm makes a user who can sign in at once', async () => {
    const { data, error } = await admin.auth.admin.createUser({
      email: 'Ann@Example.com',
      password: 'ann password',
      email_confirm: true,
      user_metadata: { name: 'Ann' },
      app_metadata: { plan: 'pro' },
    });
    expect(error).toBeNull();
    expect(data.user).toMatchObject({
      email: 'ann@example.com',
      user_metadata: { name: 'Ann' },
      app_metadata: { provider: 'email', providers: ['email'], plan: 'pro' },
    });
    expect(data.user?.email_confirmed_at).toBeTruthy();
    const signIn = await client().auth.signInWithPassword({ email: 'ann@example.com', password: 'ann password' });
    expect(signIn.error).toBeNull();
    expect(decodeJwt(signIn.data.session?.access_token ?? '').app_metadata).toMatchObject({ plan: 'pro' });
    expect(await count('public.profiles where name = $1', ['Ann'])).toBe(1);
  });

  test('createUser keeps a given id and refuses a taken email', async () => {
    const id = crypto.randomUUID();
    const made = await admin.auth.admin.createUser({
      id,
      email: 'ben@example.com',
      password: 'ben password',
      email_confirm: true,
    });
    expect(made.error).toBeNull();
    expect(made.data.user?.id).toBe(id);
    const again = await admin.auth.admin.createUser({ email: 'ben@example.com', password: 'ben password' });
    expect(again.error?.code).toBe('email_exists');
    expect(again.error?.status).toBe(422);
  });

  test('listUsers pages through users with the total', async () => {
    for (const name of ['cat', 'dan', 'eve']) {
      expect(
        (await admin.auth.admin.createUser({ email: `${name}@example.com`, email_confirm: true })).error,
      ).toBeNull();
    }
    const first = await admin.auth.admin.listUsers({ page: 1, perPage: 2 });
    expect(first.error).toBeNull();
    expect(first.data.users).toHaveLength(2);
    expect(first.data).toMatchObject({ total: 5, nextPage: 2, lastPage: 3 });
    const last = await admin.auth.admin.listUsers({ page: 3, perPage: 2 });
    expect(last.data.users).toHaveLength(1);
    expect(last.data).toMatchObject({ total: 5, nextPage: null, lastPage: 3 });
    const all = await admin.auth.admin.listUsers();
    expect(all.data.users.map((u) => u.email).sort()).toEqual([
      'ann@example.com',
      'ben@example.com',
      'cat@example.com',
      'dan@example.com',
      'eve@example.com',
    ]);
  });

  test('getUserById finds a user; an unknown or malformed id is user_not_found', async () => {
    const { data: list } = await admin.auth.admin.listUsers();
    const ann = list.users.find((u) => u.email === 'ann@example.com');
    const got = await admin.auth.admin.getUserById(ann?.id ?? '');
    expect(got.error).toBeNull();
    expect(got.data.user?.email).toBe('ann@example.com');
    expect((await admin.auth.admin.getUserById(crypto.randomUUID())).error?.status).toBe(404);
    // auth-js refuses a malformed id itself; the server does too.
    const malformed = await fetch(`${server.url}/auth/v1/admin/users/not-a-uuid`, {
      headers: { apikey: server.serviceRoleKey, authorization: `Bearer ${server.serviceRoleKey}` },
    });
    expect(malformed.status).toBe(404);
  });
});

describe('updating, banning and deleting', () => {
  test('updateUserById merges metadata and changes the password', async () => {
    const { data } = await admin.auth.admin.createUser({
      email: 'fay@example.com',
      password: 'fay password',
      email_confirm: true,
      user_metadata: { a: 1, b: 2 },
    });
    const id = data.user?.id ?? '';
    const updated = await admin.auth.admin.updateUserById(id, {
      user_metadata: { b: null, c: 3 },
      app_metadata: { role: 'editor' },
      password: 'fay new password',
    });
    expect(updated.error).toBeNull();
    expect(updated.data.user?.user_metadata).toEqual({ a: 1, c: 3 });
    expect(updated.data.user?.app_metadata).toMatchObject({ provider: 'email', role: 'editor' });
    expect(
      (await client().auth.signInWithPassword({ email: 'fay@example.com', password: 'fay new password' })).error,
    ).toBeNull();
  });

  test('ban_duration refuses sign-in and ends sessions; none lifts the ban', async () => {
    const { data } = await admin.auth.admin.createUser({
      email: 'gus@example.com',
      password: 'gus password',
      email_confirm: true,
    });
    const id = data.user?.id ?? '';
    const gus = client();
    const before = await gus.auth.signInWithPassword({ email: 'gus@example.com', password: 'gus password' });
    expect(before.error).toBeNull();

    const banned = await admin.auth.admin.updateUserById(id, { ban_duration: '24h' });
    expect(banned.error).toBeNull();
    expect(new Date(banned.data.user?.banned_until ?? 0).getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);
    const refused = await client().auth.signInWithPassword({ email: 'gus@example.com', password: 'gus password' });
    expect(refused.error?.code).toBe('user_banned');
    expect(refused.error?.status).toBe(400);
    expect((await gus.auth.refreshSession()).error).not.toBeNull();
    expect(await count('auth.sessions where user_id = $1', [id])).toBe(0);
    // Nor through an emailed link.
    const link = await admin.auth.admin.generateLink({ type: 'magiclink', email: 'gus@example.com' });
    const viaLink = await client().auth.verifyOtp({
      token_hash: link.data.properties?.hashed_token ?? '',
      type: 'magiclink',
    });
    expect(viaLink.error?.code).toBe('user_banned');

    const lifted = await admin.auth.admin.updateUserById(id, { ban_duration: 'none' });
    expect(lifted.error).toBeNull();
    expect(lifted.data.user?.banned_until).toBeUndefined();
    expect(
      (await client().auth.signInWithPassword({ email: 'gus@example.com', password: 'gus password' })).error,
    ).toBeNull();
  });

  test('a malformed ban_duration is a 400', async () => {
    const { data } = await admin.auth.admin.listUsers();
    const { error } = await admin.auth.admin.updateUserById(data.users[0]?.id ?? '', { ban_duration: 'forever' });
    expect(error?.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
  });

  test('deleteUser removes the user, its sessions and, by cascade, its profile row', async () => {
    const { data } = await admin.auth.admin.createUser({
      email: 'hal@example.com',
      password: 'hal password',
      email_confirm: true,
      user_metadata: { name: 'Hal' },
    });
    const id = data.user?.id ?? '';
    const hal = client();
    await hal.auth.signInWithPassword({ email: 'hal@example.com', password: 'hal password' });
    expect(await count('auth.sessions where user_id = $1', [id])).toBe(1);
    expect(await count('public.profiles where id = $1', [id])).toBe(1);

    const deleted = await admin.auth.admin.deleteUser(id);
    expect(deleted.error).toBeNull();
    expect(await count('auth.users where id = $1', [id])).toBe(0);
    expect(await count('auth.sessions where user_id = $1', [id])).toBe(0);
    expect(await count('auth.identities where user_id = $1', [id])).toBe(0);
    expect(await count('public.profiles where id = $1', [id])).toBe(0);
    expect(await userStatus(hal)).toBe(403);
    expect((await admin.auth.admin.getUserById(id)).error?.code).toBe('user_not_found');
    expect((await admin.auth.admin.deleteUser(id)).error?.code).toBe('user_not_found');
  });

  test('a soft delete keeps the row (and its profile) but the user is gone from the API', async () => {
    const { data } = await admin.auth.admin.createUser({
      email: 'ivy@example.com',
      password: 'ivy password',
      email_confirm: true,
      user_metadata: { name: 'Ivy' },
    });
    const id = data.user?.id ?? '';
    const ivy = client();
    await ivy.auth.signInWithPassword({ email: 'ivy@example.com', password: 'ivy password' });
    expect((await admin.auth.admin.deleteUser(id, true)).error).toBeNull();
    expect(await count('auth.users where id = $1 and deleted_at is not null', [id])).toBe(1);
    expect(await count('public.profiles where id = $1', [id])).toBe(1);
    expect(await count('auth.sessions where user_id = $1', [id])).toBe(0);
    expect((await admin.auth.admin.getUserById(id)).error?.code).toBe('user_not_found');
    expect(
      (await client().auth.signInWithPassword({ email: 'ivy@example.com', password: 'ivy password' })).error?.code,
    ).toBe('invalid_credentials');
    // The address is free again.
    expect((await admin.auth.admin.createUser({ email: 'ivy@example.com', email_confirm: true })).error).toBeNull();
  });
});

describe('generated links', () => {
  test('signup: the email_otp confirms the new user', async () => {
    const { data, error } = await admin.auth.admin.generateLink({
      type: 'signup',
      email: 'jo@example.com',
      password: 'jo password',
      options: { data: { name: 'Jo' } },
    });
    expect(error).toBeNull();
    expect(data.properties?.verification_type).toBe('signup');
    expect(data.properties?.email_otp).toMatch(/^\d{6}$/);
    expect(data.properties?.action_link).toContain('/auth/v1/verify?');
    expect(data.user?.email).toBe('jo@example.com');
    expect(data.user?.user_metadata).toEqual({ name: 'Jo' });
    const verified = await client().auth.verifyOtp({
      email: 'jo@example.com',
      token: data.properties?.email_otp ?? '',
      type: 'signup',
    });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email_confirmed_at).toBeTruthy();
    expect(
      (await client().auth.signInWithPassword({ email: 'jo@example.com', password: 'jo password' })).error,
    ).toBeNull();
  });

  test('magiclink: the hashed_token signs in; the action link works in a browser', async () => {
    const one = await admin.auth.admin.generateLink({ type: 'magiclink', email: 'ann@example.com' });
    expect(one.data.properties?.verification_type).toBe('magiclink');
    const viaHash = await client().auth.verifyOtp({
      token_hash: one.data.properties?.hashed_token ?? '',
      type: 'magiclink',
    });
    expect(viaHash.error).toBeNull();
    expect(viaHash.data.user?.email).toBe('ann@example.com');

    const two = await admin.auth.admin.generateLink({
      type: 'magiclink',
      email: 'ann@example.com',
      options: { redirectTo: `${server.url}/home` },
    });
    expect(two.data.properties?.redirect_to).toBe(`${server.url}/home`);
    const response = await fetch(two.data.properties?.action_link ?? '', { redirect: 'manual' });
    expect(response.status).toBe(303);
    const location = response.headers.get('location') ?? '';
    expect(location.startsWith(`${server.url}/home#access_token=`)).toBe(true);
  });

  test('magiclink for an unknown address creates the user, as GoTrue does', async () => {
    const { data, error } = await admin.auth.admin.generateLink({ type: 'magiclink', email: 'kim@example.com' });
    expect(error).toBeNull();
    expect(data.properties?.verification_type).toBe('signup');
    const verified = await client().auth.verifyOtp({
      email: 'kim@example.com',
      token: data.properties?.email_otp ?? '',
      type: 'email',
    });
    expect(verified.error).toBeNull();
  });

  test('recovery: the code signs in for a password change; an unknown address is user_not_found', async () => {
    const { data } = await admin.auth.admin.generateLink({ type: 'recovery', email: 'ben@example.com' });
    const ben = client();
    const verified = await ben.auth.verifyOtp({
      email: 'ben@example.com',
      token: data.properties?.email_otp ?? '',
      type: 'recovery',
    });
    expect(verified.error).toBeNull();
    expect((await ben.auth.updateUser({ password: 'ben recovered' })).error).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'ben@example.com', password: 'ben recovered' })).error,
    ).toBeNull();
    const unknown = await admin.auth.admin.generateLink({ type: 'recovery', email: 'nobody@example.com' });
    expect(unknown.error?.code).toBe('user_not_found');
    expect(unknown.error?.status).toBe(404);
  });

  test('invite: the hashed_token accepts the invite and the user sets a password', async () => {
    const { data, error } = await admin.auth.admin.generateLink({ type: 'invite', email: 'lee@example.com' });
    expect(error).toBeNull();
    expect(data.user?.invited_at).toBeTruthy();
    const lee = client();
    const accepted = await lee.auth.verifyOtp({ token_hash: data.properties?.hashed_token ?? '', type: 'invite' });
    expect(accepted.error).toBeNull();
    expect((await lee.auth.updateUser({ password: 'lee password' })).error).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'lee@example.com', password: 'lee password' })).error,
    ).toBeNull();
  });

  test('email_change_new: verifying it moves the user to the new address', async () => {
    const { data, error } = await admin.auth.admin.generateLink({
      type: 'email_change_new',
      email: 'dan@example.com',
      newEmail: 'daniel@example.com',
    });
    expect(error).toBeNull();
    const verified = await client().auth.verifyOtp({
      token_hash: data.properties?.hashed_token ?? '',
      type: 'email_change',
    });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email).toBe('daniel@example.com');
  });
});

describe('invites by mail', () => {
  test('inviteUserByEmail mails a link that signs the invited user in', async () => {
    const since = sink.mails.length;
    const { data, error } = await admin.auth.admin.inviteUserByEmail('max@example.com', {
      data: { name: 'Max' },
      redirectTo: `${server.url}/welcome`,
    });
    expect(error).toBeNull();
    expect(data.user?.email).toBe('max@example.com');
    expect(data.user?.invited_at).toBeTruthy();
    const mail = await sink.next('max@example.com', since);
    expect(mail.subject).toBe('You have been invited');
    const { link } = linkAndCode(mail);
    const response = await fetch(link ?? '', { redirect: 'manual' });
    expect(response.status).toBe(303);
    const location = response.headers.get('location') ?? '';
    expect(location.startsWith(`${server.url}/welcome#`)).toBe(true);
    const fragment = new URLSearchParams(location.split('#')[1]);
    expect(fragment.get('type')).toBe('invite');
    expect(decodeJwt(fragment.get('access_token') ?? '').email).toBe('max@example.com');
    expect(await count('public.profiles where name = $1', ['Max'])).toBe(1);
  });

  test('inviting a confirmed user is email_exists', async () => {
    const { error } = await admin.auth.admin.inviteUserByEmail('ann@example.com');
    expect(error?.code).toBe('email_exists');
  });
});

describe('only the service_role may administer', () => {
  test("the anon key and a user's token are not_admin 403", async () => {
    const anon = client();
    const asAnon = await anon.auth.admin.listUsers();
    expect(asAnon.error?.code).toBe('not_admin');
    expect(asAnon.error?.status).toBe(403);
    expect((await anon.auth.admin.inviteUserByEmail('sneaky@example.com')).error?.code).toBe('not_admin');

    const ann = client();
    const { data } = await ann.auth.signInWithPassword({ email: 'ann@example.com', password: 'ann password' });
    const asUser = supabaseClient(server, server.anonKey);
    const response = await fetch(`${server.url}/auth/v1/admin/users`, {
      headers: {
        apikey: server.anonKey,
        authorization: `Bearer ${data.session?.access_token}`,
        'x-supabase-api-version': '2024-01-01',
      },
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ code: 'not_admin' });
    const created = await asUser.auth.admin.createUser({ email: 'sneaky@example.com' });
    expect(created.error?.code).toBe('not_admin');
    expect(await count('auth.users where email = $1', ['sneaky@example.com'])).toBe(0);
  });

  test('admin.signOut ends the sessions of the token it is given', async () => {
    const ann = client();
    const { data } = await ann.auth.signInWithPassword({ email: 'ann@example.com', password: 'ann password' });
    expect((await admin.auth.admin.signOut(data.session?.access_token ?? '', 'local')).error).toBeNull();
    expect(await userStatus(ann)).toBe(403);
  });
});

describe('imported users', () => {
  test('createUser with a bcrypt password_hash (an imported user) signs in with that password', async () => {
    const made = await admin.auth.admin.createUser({
      email: 'imported@example.com',
      password_hash: (await bcryptHash('imported password', 4)).replace(/^\$2b\$/, '$2a$'),
      email_confirm: true,
    });
    expect(made.error).toBeNull();
    const signedIn = await client().auth.signInWithPassword({
      email: 'imported@example.com',
      password: 'imported password',
    });
    expect(signedIn.error).toBeNull();
    expect(signedIn.data.user?.id).toBe(made.data.user?.id);
    // The first sign-in replaces the bcrypt hash with Trellis's own; the password still works.
    const stored = await server.sql.query<{ h: string }>(
      `select encrypted_password as h from auth.users where email = 'imported@example.com'`,
    );
    expect(stored.rows[0]?.h).toMatch(/^\$argon2id\$/);
    const again = await client().auth.signInWithPassword({
      email: 'imported@example.com',
      password: 'imported password',
    });
    expect(again.error).toBeNull();
    const wrong = await client().auth.signInWithPassword({
      email: 'imported@example.com',
      password: 'imported passwore',
    });
    expect(wrong.error?.code).toBe('invalid_credentials');
    const damaged = await admin.auth.admin.createUser({ email: 'damaged@example.com', password_hash: '$2a$10$short' });
    expect(damaged.error?.status).toBe(400);
    expect(damaged.error?.message).toMatch(/password_hash must be a bcrypt hash/);
  });

  // GoTrue's own test vectors (internal/crypto/password_test.go): what a Supabase or Firebase export holds.
  test.each([
    ['argon2i', '$argon2i$v=19$m=16,t=2,p=1$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g', 'test'],
    [
      'argon2id',
      '$argon2id$v=19$m=32,t=3,p=2$SFVpOWJ0eXhjRzVkdGN1RQ$RXnb8rh7LaDcn07xsssqqulZYXOM/EUCEFMVcAcyYVk',
      'test',
    ],
    [
      'Firebase scrypt',
      '$fbscrypt$v=1,n=14,r=8,p=1,ss=Bw==,sk=ou9tdYTGyYm8kuR6Dt0Bp0kDuAYoXrK16mbZO4yGwAn3oLspjnN0/c41v8xZnO1n14J3MjKj1b2g6AUCAlFwMw==$C0sHCg9ek77hsg==$zKVTMvnWVw5BBOZNUdnsalx4c4c7y/w7IS5p6Ut2+CfEFFlz37J9huyQfov4iizN8dbjvEJlM5tQaJP84+hfTw==',
      'mytestpassword',
    ],
  ])('a %s password_hash signs in, and becomes argon2id at the first sign-in', async (kind, hash, password) => {
    const email = `imported-${kind.replace(/\W+/g, '-').toLowerCase()}@example.com`;
    const made = await admin.auth.admin.createUser({ email, password_hash: hash, email_confirm: true });
    expect(made.error).toBeNull();
    expect((await client().auth.signInWithPassword({ email, password: `${password}!` })).error?.code).toBe(
      'invalid_credentials',
    );
    expect((await client().auth.signInWithPassword({ email, password })).error).toBeNull();
    const stored = await server.sql.query<{ h: string }>(
      'select encrypted_password as h from auth.users where email = $1',
      [email],
    );
    expect(stored.rows[0]?.h).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect((await client().auth.signInWithPassword({ email, password })).error).toBeNull();
  });

  test.each([
    ['a Firebase hash of version 2', '$fbscrypt$v=2,n=14,r=8,p=1,ss=Bw==,sk=AAAA$C0sHCg9ek77hsg==$zKVTMvnWVw5BBOZN'],
    [
      'an argon2 hash with a keyid',
      '$argon2id$v=19$m=16,t=2,p=1,keyid=abc$bGJRWThNOHJJTVBSdHl2dQ$NfEnUOuUpb7F2fQkgFUG4g',
    ],
    ['scrypt needing 1 GiB', '$fbscrypt$v=1,n=20,r=8,p=1,ss=Bw==,sk=AAAA$C0sHCg9ek77hsg==$zKVTMvnWVw5BBOZN'],
  ])('%s is refused as password_hash (400) and creates nothing', async (_why, hash) => {
    const { error } = await admin.auth.admin.createUser({ email: 'refused-hash@example.com', password_hash: hash });
    expect(error?.status).toBe(400);
    expect(error?.code).toBe('validation_failed');
    const found = await server.sql.query(`select 1 from auth.users where email = 'refused-hash@example.com'`);
    expect(found.rowCount).toBe(0);
  });
});
