/**
 * Studio's live and read-only operations endpoints over real HTTP against a started server: the
 * realtime channels open now, the recent warnings and errors, the auth settings, the last bench
 * statement. Each refuses the anon key and a user's token like the rest of /studio/api.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRealtime, subscribed } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';

const MIGRATION = `
create table public.notes (id bigint generated always as identity primary key, body text);
alter publication supabase_realtime add table public.notes;
grant select on public.notes to anon;
`;

let database: Awaited<ReturnType<typeof logicalDatabase>>;
let server: TestServer;

async function call(
  method: string,
  url: string,
  options: { body?: unknown; raw?: string; auth?: string } = {},
): Promise<{ status: number; body: any; text: string }> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.auth ?? server.serviceRoleKey}` };
  let body: string | undefined = options.raw;
  if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}/studio/api${url}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body: parsed, text };
}

const userToken = () =>
  new SignJWT({ role: 'authenticated', sub: crypto.randomUUID(), aud: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(server.jwtSecret));

beforeAll(async () => {
  database = await logicalDatabase();
  server = await startTestServer({ databaseUrl: database.url, migrations: { '20240101000000_notes.sql': MIGRATION } });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await database?.stop();
});

describe('who may call the live endpoints', () => {
  test.each(['/realtime/channels'])('%s refuses the anon key and a user token with 403', async (path) => {
    expect((await call('GET', path, { auth: server.anonKey })).status).toBe(403);
    expect((await call('GET', path, { auth: await userToken() })).status).toBe(403);
    expect((await call('GET', path)).status).toBe(200);
  });
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
