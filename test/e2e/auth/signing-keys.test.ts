/**
 * Asymmetric signing keys end to end: access tokens signed ES256/RS256 with the key's kid, the
 * JWKS, getClaims verifying locally, every API (auth, REST, storage, realtime) verifying through
 * the one key set, rotation keeping old tokens valid and revocation refusing them.
 */
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { SignJWT, type JWK } from 'jose';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateKey } from '../../../src/project/key-file.js';
import { runCli } from '../../helpers/cli.js';
import { closeRealtime, RawSocket, subscribed } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const MIGRATION = {
  '20240101000000_notes.sql': `
    create table public.notes (id bigint generated always as identity primary key, owner uuid default auth.uid(), body text not null);
    alter table public.notes enable row level security;
    create policy "own notes" on public.notes for all to authenticated using (owner = auth.uid()) with check (owner = auth.uid());
    grant select, insert on public.notes to authenticated;
    insert into storage.buckets (id, name) values ('files', 'files');
    create policy "upload own" on storage.objects for insert to authenticated with check (bucket_id = 'files' and owner_id = auth.uid()::text);
    create policy "see own" on storage.objects for select to authenticated using (bucket_id = 'files' and owner_id = auth.uid()::text);
  `,
};

const clients: SupabaseClient[] = [];
const servers: TestServer[] = [];

const headerOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString()) as Record<string, unknown>;
const asVerifier = (key: JWK): JWK => ({ ...key, key_ops: ['verify'] });

/** A signed-in client whose requests are counted by path. */
async function signedIn(server: TestServer) {
  const paths: string[] = [];
  const counting: typeof fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    paths.push(new URL(url).pathname);
    return fetch(input, init);
  };
  const client = createClient(server.url, server.anonKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as unknown as never },
    global: { fetch: counting },
  });
  clients.push(client);
  const email = `u-${crypto.randomUUID()}@example.com`;
  const { data, error } = await client.auth.signUp({ email, password: 'a long password 123' });
  if (error || !data.session) throw error ?? new Error('no session');
  return { client, paths, email, id: data.session.user.id, token: data.session.access_token };
}

/** What REST, storage, auth and a realtime join answer to `token`. */
async function reach(server: TestServer, token: string) {
  const headers = { apikey: server.anonKey, authorization: `Bearer ${token}` };
  const rest = await fetch(`${server.url}/rest/v1/notes?select=body`, { headers });
  const storage = await fetch(`${server.url}/storage/v1/object/files/${crypto.randomUUID()}.txt`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'text/plain' },
    body: 'bytes',
  });
  const user = await fetch(`${server.url}/auth/v1/user`, { headers });
  return {
    rest: { status: rest.status, body: (await rest.json()) as unknown },
    storage: { status: storage.status, body: (await storage.json()) as unknown },
    user: { status: user.status, body: (await user.json()) as unknown },
  };
}

async function join(server: TestServer, token: string, topic: string): Promise<void> {
  const client = supabaseClient(server);
  clients.push(client);
  await client.realtime.setAuth(token);
  await subscribed(client.channel(topic), 5000);
}

afterAll(async () => {
  await closeRealtime(...clients);
  for (const server of servers.reverse()) await server.stop();
});

describe('an ES256 key from config.toml [auth] signing_keys_path', () => {
  const key = generateKey('ES256');
  const standby = asVerifier(generateKey('RS256'));
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      migrations: MIGRATION,
      files: {
        'supabase/config.toml': '[auth]\nsigning_keys_path = "./signing_keys.json"\n',
        'supabase/signing_keys.json': JSON.stringify([key, standby]),
      },
    });
    servers.push(server);
  });

  test('the JWKS lists the public keys, without an apikey, cached as GoTrue has it', async () => {
    const response = await fetch(`${server.url}/auth/v1/.well-known/jwks.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('public, max-age=600');
    const jwks = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(jwks.keys).toEqual([
      { kty: 'EC', kid: key.kid, alg: 'ES256', use: 'sig', key_ops: ['verify'], crv: 'P-256', x: key.x, y: key.y },
      { kty: 'RSA', kid: standby.kid, alg: 'RS256', use: 'sig', key_ops: ['verify'], n: standby.n, e: standby.e },
    ]);
    expect(JSON.stringify(jwks)).not.toMatch(/"(d|p|q|dp|dq|qi)"/);
  });

  test('access tokens are ES256 with the key kid, and getClaims verifies them without calling /user', async () => {
    const user = await signedIn(server);
    expect(headerOf(user.token)).toEqual({ alg: 'ES256', typ: 'JWT', kid: key.kid });
    user.paths.length = 0;
    const { data, error } = await user.client.auth.getClaims();
    expect(error).toBeNull();
    expect(data?.claims).toMatchObject({ email: user.email, sub: user.id, role: 'authenticated' });
    expect(user.paths).not.toContain('/auth/v1/user');
    // The JWKS is fetched at most once (auth-js caches it per storage key, across clients).
    expect(user.paths.filter((p) => p !== '/auth/v1/.well-known/jwks.json')).toEqual([]);
  });

  test('REST, storage, auth and realtime accept the ES256 user token', async () => {
    const user = await signedIn(server);
    expect((await user.client.from('notes').insert({ body: 'mine' })).error).toBeNull();
    expect((await user.client.from('notes').select('body')).data).toEqual([{ body: 'mine' }]);
    expect((await user.client.storage.from('files').upload(`${user.id}.txt`, 'hello')).error).toBeNull();
    expect((await user.client.auth.getUser()).data.user?.id).toBe(user.id);
    await join(server, user.token, 'room:es256');
  });

  test('the API keys stay HS256 (legacy) and keep working', async () => {
    expect(headerOf(server.anonKey)).toEqual({ alg: 'HS256', typ: 'JWT' });
    const admin = supabaseClient(server, server.serviceRoleKey);
    expect((await admin.auth.admin.listUsers()).error).toBeNull();
  });

  test('forged tokens are refused by every API', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { role: 'authenticated', sub: crypto.randomUUID(), aud: 'authenticated', iat: now, exp: now + 600 };
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const publicPem = crypto
      .createPublicKey({ key: standby as crypto.JsonWebKey, format: 'jwk' })
      .export({ type: 'spki', format: 'pem' });
    const other = generateKey('ES256');
    const otherKey = crypto.createPrivateKey({ key: other as crypto.JsonWebKey, format: 'jwk' });
    const ownKey = crypto.createPrivateKey({ key: key as crypto.JsonWebKey, format: 'jwk' });
    const forged: Record<string, string> = {
      'alg none': `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`,
      'HS256 signed with the public key (alg confusion)': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'HS256', kid: String(standby.kid) })
        .sign(new TextEncoder().encode(String(publicPem))),
      'an unknown kid': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: String(other.kid) })
        .sign(otherKey),
      'another key under the known kid': await new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: String(key.kid) })
        .sign(otherKey),
      expired: await new SignJWT({ ...claims, exp: now - 60 })
        .setProtectedHeader({ alg: 'ES256', kid: String(key.kid) })
        .sign(ownKey),
    };
    for (const [name, token] of Object.entries(forged)) {
      const answer = await reach(server, token);
      expect([name, answer.rest.status, answer.storage.status, answer.user.status]).toEqual([name, 401, 400, 403]);
      expect(answer.rest.body).toMatchObject({ code: 'PGRST301' });
      expect(answer.storage.body).toMatchObject({ error: 'InvalidJWT' });
      expect(answer.user.body).toMatchObject({ error_code: 'bad_jwt' });
      await expect(join(server, token, `room:${name.length}`)).rejects.toThrow();
    }
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

describe('an RS256 key from AUTH_JWT_KEYS (GoTrue format, with an HS256 oct key beside it)', () => {
  const key = generateKey('RS256');
  let server: TestServer;
  beforeAll(async () => {
    const oct = {
      kty: 'oct',
      kid: crypto.randomUUID(),
      k: Buffer.from('an hmac key of at least thirty-two bytes').toString('base64url'),
      key_ops: ['verify'],
      alg: 'HS256',
    };
    server = await startTestServer({ migrations: MIGRATION, env: { AUTH_JWT_KEYS: JSON.stringify([oct, key]) } });
    servers.push(server);
  });

  test('getClaims verifies an RS256 token from the JWKS; the oct key is not published', async () => {
    const user = await signedIn(server);
    expect(headerOf(user.token)).toEqual({ alg: 'RS256', typ: 'JWT', kid: key.kid });
    user.paths.length = 0;
    const { data, error } = await user.client.auth.getClaims();
    expect(error).toBeNull();
    expect(data?.claims.email).toBe(user.email);
    expect(user.paths).toEqual(['/auth/v1/.well-known/jwks.json']);
    const jwks = (await (await fetch(`${server.url}/auth/v1/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([key.kid]);
    expect((await reach(server, user.token)).rest.status).toBe(200);
  });
});

describe('rotation and revocation (three instances on one database, keys in the data folder)', () => {
  const first = generateKey('ES256');
  const second = generateKey('ES256');
  const keysFile = (keys: JWK[]) => ({ '.trellis/signing-keys.json': JSON.stringify(keys) });
  let before: TestServer;
  let rotated: TestServer;
  let revoked: TestServer;
  beforeAll(async () => {
    before = await startTestServer({ migrations: MIGRATION, files: keysFile([first]) });
    servers.push(before);
    const shared = { migrations: MIGRATION, databaseUrl: before.databaseUrl };
    rotated = await startTestServer({ ...shared, files: keysFile([second, asVerifier(first)]) });
    servers.push(rotated);
    revoked = await startTestServer({ ...shared, files: keysFile([second]) });
    servers.push(revoked);
  });

  test("after a rotation the new key signs and the old key's tokens stay valid; revoked, they are refused", async () => {
    const old = await signedIn(before);
    expect(headerOf(old.token).kid).toBe(first.kid);
    const fresh = await signedIn(rotated);
    expect(headerOf(fresh.token).kid).toBe(second.kid);

    const kept = await reach(rotated, old.token);
    expect([kept.rest.status, kept.storage.status, kept.user.status]).toEqual([200, 200, 200]);
    await join(rotated, old.token, 'room:rotated');

    const gone = await reach(revoked, old.token);
    expect(gone.rest).toEqual({
      status: 401,
      body: expect.objectContaining({
        code: 'PGRST301',
        message: `JWT invalid: unrecognized JWT kid ${first.kid} for algorithm ES256`,
      }),
    });
    expect(gone.storage).toEqual({
      status: 400,
      body: expect.objectContaining({ statusCode: '400', error: 'InvalidJWT', message: 'invalid signature' }),
    });
    expect(gone.user).toEqual({
      status: 403,
      body: expect.objectContaining({
        error_code: 'bad_jwt',
        msg: `invalid JWT: unable to parse or verify signature, unrecognized JWT kid ${first.kid} for algorithm ES256`,
      }),
    });
    await expect(join(revoked, old.token, 'room:revoked')).rejects.toThrow(/JwtSignatureError/);
    // The new key's tokens work on the instance that revoked the old one.
    expect((await reach(revoked, fresh.token)).rest.status).toBe(200);
  });

  test('realtime: the join payload and access_token messages verify through the same set', async () => {
    const old = await signedIn(before);
    const fresh = await signedIn(revoked);
    const socket = await RawSocket.open(revoked.url, revoked.anonKey);
    try {
      const refused = await socket.join('room:raw-old', { config: {}, access_token: old.token });
      expect(refused.reply).toMatchObject({
        status: 'error',
        response: { reason: expect.stringMatching(/JwtSignatureError/) },
      });
      const { joinRef, reply } = await socket.join('room:raw', { config: {}, access_token: fresh.token });
      expect(reply.status).toBe('ok');
      // Refreshing the channel's token with the revoked key's token ends the channel.
      socket.send(joinRef, socket.nextRef(), 'realtime:room:raw', 'access_token', { access_token: old.token });
      const closing = await socket.waitFrame((f) => f[2] === 'realtime:room:raw' && f[3] === 'system');
      expect(closing[4]).toMatchObject({
        status: 'error',
        message: expect.stringMatching(/Failed to validate JWT signature/),
      });
    } finally {
      socket.close();
    }
  });
});

describe('a running server follows its key file', () => {
  const first = generateKey('ES256');
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      migrations: MIGRATION,
      files: { '.trellis/signing-keys.json': JSON.stringify([first]) },
    });
    servers.push(server);
  });

  /** The kid of a fresh sign-in's token, once it is `kid` (the file is polled every 2 s). */
  async function signsWith(kid: string | undefined): Promise<Awaited<ReturnType<typeof signedIn>>> {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const user = await signedIn(server);
      if (headerOf(user.token).kid === kid || Date.now() > deadline) return user;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  test('`trellis keys rotate` and `revoke` apply without a restart; a broken file changes nothing', async () => {
    const old = await signedIn(server);
    expect(headerOf(old.token).kid).toBe(first.kid);

    const rotated = await runCli(['keys', 'rotate', '--dir', server.dir]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const written = JSON.parse(await fs.readFile(keyFile(server), 'utf8')) as JWK[];
    const second = written[0]?.kid;
    expect(second).not.toBe(first.kid);
    const fresh = await signsWith(second);
    expect(headerOf(fresh.token).kid).toBe(second);
    // The old key only verifies now: its tokens still reach every API.
    expect((await reach(server, old.token)).rest.status).toBe(200);

    // A file that is no key list is logged and ignored: the keys in use stay.
    await fs.writeFile(keyFile(server), '{ not json');
    await new Promise((r) => setTimeout(r, 4500));
    expect(headerOf((await signedIn(server)).token).kid).toBe(second);
    await fs.writeFile(keyFile(server), JSON.stringify(written));

    const revoked = await runCli(['keys', 'revoke', String(first.kid), '--dir', server.dir]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const deadline = Date.now() + 10_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await reach(server, old.token)).rest.status;
      if (status === 200) await new Promise((r) => setTimeout(r, 250));
    }
    // Refused at once, though the token had been verified (and cached) before the revocation.
    expect(status).toBe(401);
    expect((await reach(server, fresh.token)).rest.status).toBe(200);
    const jwks = (await (await fetch(`${server.url}/auth/v1/.well-known/jwks.json`)).json()) as { keys: JWK[] };
    expect(jwks.keys.map((k) => k.kid)).toEqual([second]);
  });
});

const keyFile = (server: TestServer) => path.join(server.dir, '.trellis', 'signing-keys.json');
