import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
// Clients keep no session and never refresh on their own (see supabaseClient).
const client = (): SupabaseClient => supabaseClient(server);

beforeAll(async () => {
  server = await startTestServer({
    env: { AUTH_ANONYMOUS_SIGN_INS: 'true', AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '1' },
    migrations: {
      // The classic Supabase pattern: a profile row created by a trigger on sign-up.
      '20240101000000_profiles.sql': `
        create table public.profiles (id uuid primary key references auth.users (id) on delete cascade, display_name text);
        alter table public.profiles enable row level security;
        create policy "own profile" on public.profiles for select using (auth.uid() = id);
        create function public.handle_new_user() returns trigger language plpgsql security definer set search_path = '' as $$
        begin
          if new.raw_user_meta_data ->> 'display_name' = 'explode' then
            raise exception 'profile trigger refused';
          end if;
          insert into public.profiles (id, display_name) values (new.id, new.raw_user_meta_data ->> 'display_name');
          return new;
        end $$;
        create trigger on_auth_user_created after insert on auth.users for each row execute procedure public.handle_new_user();
      `,
    },
  });
});
afterAll(async () => {
  await server.stop();
});

describe('password sign-up and sign-in through supabase-js', () => {
  test('sign-up returns a session with Supabase claims and runs the project trigger', async () => {
    const supabase = client();
    const { data, error } = await supabase.auth.signUp({
      email: 'Alice@Example.com',
      password: 'correct horse',
      options: { data: { display_name: 'Alice' } },
    });
    expect(error).toBeNull();
    expect(data.user?.email).toBe('alice@example.com');
    expect(data.user?.user_metadata).toEqual({ display_name: 'Alice' });
    expect(data.user?.app_metadata).toEqual({ provider: 'email', providers: ['email'] });
    expect(data.user?.identities?.[0]?.provider).toBe('email');
    const claims = decodeJwt(data.session?.access_token ?? '');
    expect(claims).toMatchObject({
      sub: data.user?.id,
      role: 'authenticated',
      aud: 'authenticated',
      email: 'alice@example.com',
      phone: '',
      aal: 'aal1',
      is_anonymous: false,
      user_metadata: { display_name: 'Alice' },
    });
    expect(claims.exp! - claims.iat!).toBe(3600);
    expect(claims.session_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((claims.amr as { method: string }[])[0]?.method).toBe('password');
    const profile = await server.sql.query('select display_name from public.profiles where id = $1', [data.user?.id]);
    expect(profile.rows).toEqual([{ display_name: 'Alice' }]);
  });

  test('a second sign-up with the same email is refused', async () => {
    const { error } = await client().auth.signUp({ email: 'alice@example.com', password: 'another one' });
    expect(error?.status).toBe(422);
    expect(error?.code).toBe('user_already_exists');
  });

  test('a trigger that fails rolls the whole sign-up back', async () => {
    const { error } = await client().auth.signUp({
      email: 'boom@example.com',
      password: 'correct horse',
      options: { data: { display_name: 'explode' } },
    });
    expect(error?.status).toBe(500);
    const rows = await server.sql.query(`select 1 from auth.users where email = 'boom@example.com'`);
    expect(rows.rowCount).toBe(0);
  });

  test('sign-in, read and update the user, then sign out', async () => {
    const supabase = client();
    const signIn = await supabase.auth.signInWithPassword({ email: 'alice@example.com', password: 'correct horse' });
    expect(signIn.error).toBeNull();
    const me = await supabase.auth.getUser();
    expect(me.data.user?.email).toBe('alice@example.com');
    expect(me.data.user?.last_sign_in_at).toBeTruthy();

    const updated = await supabase.auth.updateUser({ data: { display_name: 'Alice B', theme: 'dark' } });
    expect(updated.error).toBeNull();
    expect(updated.data.user?.user_metadata).toEqual({ display_name: 'Alice B', theme: 'dark' });
    const removed = await supabase.auth.updateUser({ data: { theme: null } });
    expect(removed.data.user?.user_metadata).toEqual({ display_name: 'Alice B' });

    expect((await supabase.auth.signOut()).error).toBeNull();
    const after = await fetch(`${server.url}/auth/v1/user`, {
      headers: { apikey: server.anonKey, authorization: `Bearer ${signIn.data.session?.access_token}` },
    });
    expect(after.status).toBe(403);
    // Without X-Supabase-Api-Version, GoTrue's older error shape.
    expect(await after.json()).toMatchObject({ code: 403, error_code: 'session_not_found' });
  });

  test('wrong password and unknown email give the same answer', async () => {
    const wrong = await client().auth.signInWithPassword({ email: 'alice@example.com', password: 'wrong horse' });
    const unknown = await client().auth.signInWithPassword({ email: 'nobody@example.com', password: 'wrong horse' });
    for (const { error } of [wrong, unknown]) {
      expect(error?.status).toBe(400);
      expect(error?.code).toBe('invalid_credentials');
      expect(error?.message).toBe('Invalid login credentials');
    }
  });

  test('a password change takes effect, ends the other sessions, and the same password is refused', async () => {
    const other = client();
    await other.auth.signInWithPassword({ email: 'alice@example.com', password: 'correct horse' });
    const supabase = client();
    await supabase.auth.signInWithPassword({ email: 'alice@example.com', password: 'correct horse' });
    const same = await supabase.auth.updateUser({ password: 'correct horse' });
    expect(same.error?.code).toBe('same_password');
    expect((await supabase.auth.updateUser({ password: 'battery staple' })).error).toBeNull();
    expect((await other.auth.refreshSession()).error?.code).toBe('refresh_token_not_found');
    expect((await supabase.auth.getUser()).error).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'alice@example.com', password: 'battery staple' })).error,
    ).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'alice@example.com', password: 'correct horse' })).error?.code,
    ).toBe('invalid_credentials');
  });
});

describe('refresh tokens', () => {
  test('rotate on every use; a used one revokes the session after the reuse interval', async () => {
    const supabase = client();
    const { data } = await supabase.auth.signInWithPassword({ email: 'alice@example.com', password: 'battery staple' });
    const first = data.session?.refresh_token ?? '';
    const refreshed = await supabase.auth.refreshSession({ refresh_token: first });
    expect(refreshed.error).toBeNull();
    const second = refreshed.data.session?.refresh_token ?? '';
    expect(second).not.toBe(first);

    // Within the reuse interval a retry with the old token (a lost response) gets the same new
    // token, never a second live one.
    const retry = await client().auth.refreshSession({ refresh_token: first });
    expect(retry.error).toBeNull();
    expect(retry.data.session?.refresh_token).toBe(second);

    await new Promise((r) => setTimeout(r, 1200));
    const reuse = await client().auth.refreshSession({ refresh_token: first });
    expect(reuse.error?.code).toBe('refresh_token_already_used');
    // The whole session is gone: even the legitimate latest token no longer works.
    const legit = await client().auth.refreshSession({ refresh_token: second });
    expect(legit.error, JSON.stringify(legit.error)).not.toBeNull();
    expect(legit.error?.code).toBe('refresh_token_not_found');
  });

  test('concurrent refreshes of one token get one child; an older ancestor is reuse', async () => {
    const { data } = await client().auth.signInWithPassword({ email: 'alice@example.com', password: 'battery staple' });
    const root = data.session?.refresh_token ?? '';
    const [a, b] = await Promise.all([
      client().auth.refreshSession({ refresh_token: root }),
      client().auth.refreshSession({ refresh_token: root }),
    ]);
    expect(a.error).toBeNull();
    expect(b.error).toBeNull();
    expect(a.data.session?.refresh_token).toBe(b.data.session?.refresh_token);
    const grandchild = await client().auth.refreshSession({ refresh_token: a.data.session?.refresh_token ?? '' });
    expect(grandchild.error).toBeNull();
    // `root` is now a grandparent: presenting it, even within the interval, is reuse.
    const replay = await client().auth.refreshSession({ refresh_token: root });
    expect(replay.error?.code).toBe('refresh_token_already_used');
    expect(
      (await client().auth.refreshSession({ refresh_token: grandchild.data.session?.refresh_token ?? '' })).error?.code,
    ).toBe('refresh_token_not_found');
  });

  test('a live token rotates; a timed-out session, a banned or a deleted user are refused and keep their token', async () => {
    const signUp = async (email: string) => {
      const { data, error } = await client().auth.signUp({ email, password: 'battery staple' });
      expect(error).toBeNull();
      return { id: data.user?.id ?? '', token: data.session?.refresh_token ?? '' };
    };
    const rotated = await signUp('rotates@example.com');
    const child = await client().auth.refreshSession({ refresh_token: rotated.token });
    expect(child.error).toBeNull();
    expect(child.data.user?.email).toBe('rotates@example.com');
    expect(child.data.user?.identities?.[0]?.provider).toBe('email');
    expect(decodeJwt(child.data.session?.access_token ?? '').amr).toEqual([
      { method: 'password', timestamp: expect.any(Number) as number },
    ]);

    const timedOut = await signUp('timed-out@example.com');
    await server.sql.query(`update auth.sessions set not_after = now() - interval '1 minute' where user_id = $1`, [
      timedOut.id,
    ]);
    expect((await client().auth.refreshSession({ refresh_token: timedOut.token })).error?.code).toBe('session_expired');

    const banned = await signUp('banned-in-sql@example.com');
    await server.sql.query(`update auth.users set banned_until = now() + interval '1 day' where id = $1`, [banned.id]);
    expect((await client().auth.refreshSession({ refresh_token: banned.token })).error?.code).toBe('user_banned');

    const deleted = await signUp('soft-deleted@example.com');
    await server.sql.query(`update auth.users set deleted_at = now() where id = $1`, [deleted.id]);
    expect((await client().auth.refreshSession({ refresh_token: deleted.token })).error?.code).toBe(
      'refresh_token_not_found',
    );
    // None of the refused grants rotated its token.
    const { rows } = await server.sql.query<{ n: number }>(
      `select count(*)::int as n from auth.refresh_tokens where revoked and user_id = any($1)`,
      [[timedOut.id, banned.id, deleted.id]],
    );
    expect(rows[0]?.n).toBe(0);
  });

  test('an unknown refresh token is refused', async () => {
    const { error } = await client().auth.refreshSession({ refresh_token: 'not-a-real-token' });
    expect(error?.status).toBe(400);
    expect(error?.code).toBe('refresh_token_not_found');
  });
});

describe('sign-out scopes', () => {
  test('local ends this session, others the rest, global all', async () => {
    const sessions = await Promise.all(
      [1, 2, 3].map(async () => {
        const c = client();
        await c.auth.signInWithPassword({ email: 'alice@example.com', password: 'battery staple' });
        return c;
      }),
    );
    const [a, b, c] = sessions as [SupabaseClient, SupabaseClient, SupabaseClient];
    await b.auth.signOut({ scope: 'local' });
    expect((await b.auth.getUser()).error).not.toBeNull();
    expect((await a.auth.getUser()).error).toBeNull();
    await a.auth.signOut({ scope: 'others' });
    const cUser = await fetch(`${server.url}/auth/v1/user`, {
      headers: {
        apikey: server.anonKey,
        authorization: `Bearer ${(await c.auth.getSession()).data.session?.access_token}`,
      },
    });
    expect(cUser.status).toBe(403);
    expect((await a.auth.getUser()).error).toBeNull();
  });
});

describe('anonymous users', () => {
  test('sign in anonymously, then become a permanent user by adding email and password', async () => {
    const supabase = client();
    const { data, error } = await supabase.auth.signInAnonymously({ options: { data: { nickname: 'guest' } } });
    expect(error).toBeNull();
    expect(data.user?.is_anonymous).toBe(true);
    expect(decodeJwt(data.session?.access_token ?? '').is_anonymous).toBe(true);
    const upgraded = await supabase.auth.updateUser({ email: 'guest@example.com', password: 'guest password' });
    expect(upgraded.error).toBeNull();
    expect(upgraded.data.user?.is_anonymous).toBe(false);
    expect(
      (await client().auth.signInWithPassword({ email: 'guest@example.com', password: 'guest password' })).error,
    ).toBeNull();
  });
});

describe('settings', () => {
  test('describe the enabled providers', async () => {
    const response = await fetch(`${server.url}/auth/v1/settings`, { headers: { apikey: server.anonKey } });
    expect(await response.json()).toMatchObject({
      external: { email: true, anonymous_users: true },
      mailer_autoconfirm: true,
      disable_signup: false,
    });
  });
});

describe('with an HTTP custom_access_token hook', () => {
  test('a refresh holds no lock while the hook is called', async () => {
    // The endpoint answers at once, except the refresh's call, which waits until released.
    let hold = false;
    let held: (() => void) | undefined;
    const called = new Promise<void>((resolve) => {
      held = resolve;
    });
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const endpoint = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { claims: unknown };
        const answer = () =>
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ claims: body.claims }));
        if (!hold) return answer();
        held?.();
        void released.then(answer);
      });
    });
    await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
    const hooked = await startTestServer({
      env: {
        AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true',
        AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}/token`,
        AUTH_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS: `v1,whsec_${crypto.randomBytes(32).toString('base64')}`,
        AUTH_HOOK_HTTP_TIMEOUT_MS: '5000',
      },
    });
    try {
      const supabase = supabaseClient(hooked);
      const { data } = await supabase.auth.signUp({ email: 'hooked@example.com', password: 'hooked password' });
      const sessionId = decodeJwt(data.session?.access_token ?? '').session_id as string;
      hold = true;
      const refreshing = supabase.auth.refreshSession({ refresh_token: data.session?.refresh_token ?? '' });
      await called;
      // While the hook thinks, the session row is free: no transaction waits on the network.
      const conn = await hooked.sql.connect();
      let locked: boolean;
      try {
        await conn.query('begin');
        locked = await conn.query('select 1 from auth.sessions where id = $1 for update nowait', [sessionId]).then(
          () => false,
          (err: { code?: string }) => err.code === '55P03',
        );
      } finally {
        await conn.query('rollback');
        conn.release();
      }
      release();
      expect(locked).toBe(false);
      expect((await refreshing).error).toBeNull();
    } finally {
      release();
      await hooked.stop();
      endpoint.close();
    }
  });
});

describe('the sign-in response', () => {
  test('its session, user, identities and amr all show this sign-in (one statement writes and reads them)', async () => {
    await client().auth.signUp({ email: 'ida@example.com', password: 'ida password' });
    const before = Date.now();
    const { data, error } = await client().auth.signInWithPassword({
      email: 'ida@example.com',
      password: 'ida password',
    });
    expect(error).toBeNull();
    const user = data.user;
    expect(Date.parse(user?.last_sign_in_at ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(user?.identities).toHaveLength(1);
    // The identity's sign-in is this one too (the same transaction's now()), not the sign-up's.
    expect(user?.identities?.[0]?.last_sign_in_at).toBe(user?.last_sign_in_at);
    const claims = decodeJwt(data.session?.access_token ?? '') as {
      amr: { method: string; timestamp: number }[];
      session_id: string;
      sub: string;
    };
    expect(claims.amr.map((a) => a.method)).toEqual(['password']);
    expect(claims.amr[0]?.timestamp).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 1);
    expect(claims.sub).toBe(user?.id);
    // The refresh token issued with it is live: it rotates, within the same session.
    const refreshed = await client().auth.refreshSession({ refresh_token: data.session?.refresh_token ?? '' });
    expect(refreshed.error).toBeNull();
    expect((decodeJwt(refreshed.data.session?.access_token ?? '') as { session_id: string }).session_id).toBe(
      claims.session_id,
    );
  });
});
