/**
 * Studio's live and read-only operations endpoints over real HTTP against a started server: the
 * realtime channels open now, the recent warnings and errors, the auth settings, the last bench
 * statement. Each refuses the anon key and a user's token like the rest of /studio/api.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateKey } from '../../../src/project/key-file.js';
import { freePort } from '../../helpers/cli.js';
import { closeRealtime, subscribed } from '../../helpers/realtime.js';
import { studioCall } from '../../helpers/studio.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';

const MIGRATION = `
create table public.notes (id bigint generated always as identity primary key, body text);
alter publication supabase_realtime add table public.notes;
grant select on public.notes to anon;
`;

// Secrets in the configuration: none may appear in what the endpoints serve.
const HOOK_PASSWORD = 'hook-pass-4f9a1c';
const HOOK_SECRET = `v1,whsec_${Buffer.from('a-webhook-signing-secret-of-32by').toString('base64')}`;
const GITHUB_SECRET = 'gh-secret-7d2e90b1';
const SIGNING_KEY = generateKey('ES256');
let database: Awaited<ReturnType<typeof logicalDatabase>>;
let server: TestServer;
let secrets: string[];

const call = (method: string, url: string, options?: Parameters<typeof studioCall>[3]) =>
  studioCall(server, method, url, options);

const userToken = () =>
  new SignJWT({ role: 'authenticated', sub: crypto.randomUUID(), aud: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(server.jwtSecret));

beforeAll(async () => {
  database = await logicalDatabase();
  // The hook's port has nothing listening: every sign-in's token fails the hook, and logs a warning.
  const hookPort = await freePort();
  server = await startTestServer({
    databaseUrl: database.url,
    migrations: { '20240101000000_notes.sql': MIGRATION },
    env: {
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true',
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: `http://hookuser:${HOOK_PASSWORD}@127.0.0.1:${hookPort}/hook`,
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS: HOOK_SECRET,
      AUTH_EXTERNAL_GITHUB_ENABLED: 'true',
      AUTH_EXTERNAL_GITHUB_CLIENT_ID: 'gh-client-id',
      AUTH_EXTERNAL_GITHUB_SECRET: GITHUB_SECRET,
      AUTH_JWT_KEYS: JSON.stringify([SIGNING_KEY]),
    },
    files: { 'supabase/config.toml': '[auth]\nminimum_password_length = 8\n' },
  });
  secrets = [
    HOOK_PASSWORD,
    HOOK_SECRET,
    HOOK_SECRET.slice('v1,whsec_'.length),
    GITHUB_SECRET,
    server.jwtSecret,
    server.serviceRoleKey,
  ];
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await database?.stop();
});

describe('who may call the live endpoints', () => {
  test.each(['/realtime/channels', '/logs', '/auth/settings', '/bench/last'])(
    '%s refuses the anon key and a user token with 403',
    async (path) => {
      expect((await call('GET', path, { auth: server.anonKey })).status).toBe(403);
      expect((await call('GET', path, { auth: await userToken() })).status).toBe(403);
      expect([200, 404]).toContain((await call('GET', path)).status);
    },
  );
});

describe('GET /realtime/channels', () => {
  test('shows a joined channel with its presence and postgres_changes, and forgets it when it leaves', async () => {
    const client = supabaseClient(server);
    try {
      const channel = client
        .channel('studio-live', { config: { presence: { key: 'alice' }, broadcast: { self: true } } })
        .on(
          'postgres_changes',
          { event: 'INSERT', schema: 'public', table: 'notes', filter: 'id=gt.0' },
          () => undefined,
        )
        .on('presence', { event: 'sync' }, () => undefined);
      await subscribed(channel);
      await channel.track({ typing: false });
      await expect
        .poll(async () => (await call('GET', '/realtime/channels')).body.channels[0]?.presence.metas, {
          timeout: 10_000,
        })
        .toBe(1);
      const { body } = await call('GET', '/realtime/channels');
      expect(body.scope).toBe('all');
      expect(body.channels).toEqual([
        {
          topic: 'studio-live',
          private: false,
          sockets: 1,
          presence: { keys: 1, metas: 1, entries: [{ key: 'alice', metas: 1 }] },
          postgresChanges: [{ schema: 'public', table: 'notes', event: 'INSERT', filter: 'id=gt.0', count: 1 }],
          broadcast: [{ self: true, ack: false, count: 1 }],
          presenceEnabled: 1,
        },
      ]);
      await client.removeChannel(channel);
      await expect
        .poll(async () => (await call('GET', '/realtime/channels')).body.channels, { timeout: 10_000 })
        .toEqual([]);
    } finally {
      await closeRealtime(client);
    }
  });
});

describe('GET /logs', () => {
  test('a warning the server logs appears, its secrets scrubbed', async () => {
    const client = supabaseClient(server);
    const { error } = await client.auth.signUp({ email: 'hooked@example.com', password: 'hooked password' });
    expect(error).not.toBeNull(); // the hook cannot be reached
    const { status, body, text } = await call('GET', '/logs?q=auth%20hook');
    expect(status).toBe(200);
    expect(body.scope).toBe('instance');
    expect(body.logs[0]).toMatchObject({
      level: 'warn',
      msg: 'auth hook failed',
      fields: { hook: 'customAccessToken' },
    });
    expect(body.logs[0].fields.uri).toMatch(/hookuser:\[redacted\]@127\.0\.0\.1/);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
  test('filters by level, time and text', async () => {
    expect((await call('GET', '/logs?level=error&q=auth%20hook')).body.logs).toEqual([]);
    expect((await call('GET', `/logs?since=${Date.now() + 60_000}`)).body.logs).toEqual([]);
    expect((await call('GET', '/logs?q=no%20such%20line%20anywhere')).body.logs).toEqual([]);
    expect((await call('GET', '/logs?limit=1')).body.logs.length).toBeLessThanOrEqual(1);
  });
  test.each([
    ['an unknown level', '/logs?level=info'],
    ['a time that is no time', '/logs?since=yesterday'],
    ['a limit out of range', '/logs?limit=0'],
    ['a limit that is no number', '/logs?limit=ten'],
    ['a NUL in the text', '/logs?q=%00'],
  ])('%s: 400', async (_name, path) => {
    const res = await call('GET', path);
    expect(res.status).toBe(400);
    expect(res.body.message).toBeTruthy();
  });
});

describe('GET /auth/settings', () => {
  test('shows what is configured and where, and no secret', async () => {
    const { status, body, text } = await call('GET', '/auth/settings');
    expect(status).toBe(200);
    type Named = { id: string; name: string; uri: string };
    const external = body.external as Named[];
    const hooks = body.hooks as Named[];
    expect(body.email).toMatchObject({ enabled: true, autoconfirm: true, passwordMinLength: 8 });
    expect(body.email.setIn.autoconfirm).toBe('default');
    expect(body.email.setIn.passwordMinLength).toMatch(/config\.toml line 2/);
    expect(external.find((p) => p.id === 'github')).toMatchObject({
      enabled: true,
      clientId: 'gh-client-id',
      secret: '********',
      setIn: { enabled: 'AUTH_EXTERNAL_GITHUB_ENABLED', secret: 'AUTH_EXTERNAL_GITHUB_SECRET' },
    });
    expect(external.find((p) => p.id === 'google')).toMatchObject({
      enabled: false,
      secret: null,
    });
    const hook = hooks.find((h) => h.name === 'customAccessToken')!;
    expect(hook).toMatchObject({ enabled: true, kind: 'http', secrets: 1 });
    expect(hook.uri).toMatch(/^http:\/\/hookuser:\*+@127\.0\.0\.1:\d+\/hook$/);
    expect(body.phone).toMatchObject({ enabled: false, provider: null });
    expect(body.mfa.totp).toEqual({ enroll: true, verify: true });
    expect(body.jwt.signing).toEqual({ alg: 'ES256', kid: SIGNING_KEY.kid });
    expect(body.jwt.keys).toEqual([{ kid: SIGNING_KEY.kid, alg: 'ES256', kty: 'EC' }]);
    expect(body.jwt.setIn.keys).toBe('AUTH_JWT_KEYS');
    expect(body.jwt.setIn.secret).toBe('JWT_SECRET');
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});

describe('GET /bench/last', () => {
  test('404 with an empty answer before any bench; the saved report once one is kept; 404 for a broken file', async () => {
    const none = await call('GET', '/bench/last');
    expect(none.status).toBe(404);
    expect(none.body).toMatchObject({ code: 'no_bench', report: null });
    const report = {
      scenario: 'crud',
      statement: 'this machine sustains 120 concurrent users at p99 < 100 ms',
      capacity: 120,
    };
    const saved = { savedAt: '2026-12-04T20:00:00.000Z', command: 'trellis bench crud --quick', report };
    await fs.writeFile(path.join(server.dir, '.trellis', 'bench-last.json'), JSON.stringify(saved));
    const found = await call('GET', '/bench/last');
    expect(found.status).toBe(200);
    expect(found.body).toEqual(saved);
    await fs.writeFile(path.join(server.dir, '.trellis', 'bench-last.json'), '{"half');
    const broken = await call('GET', '/bench/last');
    expect(broken.status).toBe(404);
    expect(broken.body).toMatchObject({ code: 'bench_unreadable', report: null });
    await fs.rm(path.join(server.dir, '.trellis', 'bench-last.json'));
  });
});
