/**
 * docs/deploy/README.md's failoverFetch, run as written: supabase-js with two endpoints, the
 * first one stopped, reads and writes through the second; a connection reset (the request may
 * have reached an instance) replays a GET but not a POST; a 503 sends a GET on; all endpoints
 * gone is an error, not a hang.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import WebSocket from 'ws';
import { freePort } from '../../helpers/cli.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The README's block up to its example endpoints, as a module of this test's folder. */
async function loadFailoverFetch(): Promise<(endpoints: string[]) => typeof fetch> {
  const readme = await fs.readFile(path.join(ROOT, 'docs', 'deploy', 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(readme.indexOf('## 5.')))?.[1] ?? '';
  const code = block.slice(0, block.indexOf('\nconst endpoints'));
  if (!code.includes('export function failoverFetch')) throw new Error('docs/deploy/README.md has no failoverFetch');
  const file = path.join(ROOT, 'test', 'e2e', 'deploy', `.failover-${process.pid}.ts`);
  await fs.writeFile(file, code);
  try {
    return ((await import(file)) as { failoverFetch: (endpoints: string[]) => typeof fetch }).failoverFetch;
  } finally {
    await fs.rm(file, { force: true });
  }
}

const MIGRATION = {
  '20240101000000_notes.sql': 'create table notes (id serial primary key, body text not null);\n',
};

describe("the README's client-side failover", () => {
  let alive: TestServer;
  let stopped: TestServer;
  let failoverFetch: (endpoints: string[]) => typeof fetch;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    failoverFetch = await loadFailoverFetch();
    alive = await startTestServer({ migrations: MIGRATION });
    // A second instance on the same database, then stopped: its port refuses connections.
    stopped = await startTestServer({ migrations: MIGRATION, databaseUrl: alive.databaseUrl });
    await stopped.stop();
  });
  afterAll(async () => {
    for (const close of closers) await close();
    await alive.stop();
  });

  const supabase = (endpoints: string[]): SupabaseClient =>
    createClient(endpoints[0]!, alive.anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      global: { fetch: failoverFetch(endpoints) },
      realtime: { transport: WebSocket as unknown as never },
    });

  /** A local server that answers every connection with `handler`, closed at the end. */
  async function misbehaving(handler: (socket: net.Socket) => void): Promise<string> {
    const port = await freePort();
    const server = net.createServer(handler);
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${port}`;
  }

  test('the first endpoint dead: reads and writes go to the second, which is tried first from then on', async () => {
    const spy = vi.spyOn(globalThis, 'fetch');
    try {
      const client = supabase([stopped.url, alive.url]);
      const inserted = await client.from('notes').insert({ body: 'via the second' }).select('body');
      expect(inserted.error).toBeNull();
      expect(inserted.data).toEqual([{ body: 'via the second' }]);
      expect(spy).toHaveBeenCalledTimes(2);
      const read = await client.from('notes').select('body').eq('body', 'via the second');
      expect(read.data).toEqual([{ body: 'via the second' }]);
      expect(spy).toHaveBeenCalledTimes(3);
      expect((spy.mock.calls[2]?.[0] as URL).href).toContain(alive.url);
    } finally {
      spy.mockRestore();
    }
  });

  test('a connection reset replays a GET on the next endpoint, never a POST', async () => {
    const reset = await misbehaving((socket) => socket.once('data', () => socket.resetAndDestroy()));
    const client = supabase([reset, alive.url]);
    expect((await client.from('notes').select('id').limit(1)).error).toBeNull();
    const before = await alive.sql.query('select count(*)::int as n from notes');
    const post = await supabase([reset, alive.url]).from('notes').insert({ body: 'maybe applied' });
    expect(post.error?.message).toMatch(/fetch failed/);
    const after = await alive.sql.query('select count(*)::int as n from notes');
    expect(after.rows[0].n).toBe(before.rows[0].n);
  });

  test('a 503 (starting, draining) sends a GET on, and is the answer to a POST', async () => {
    const port = await freePort();
    const busy = http.createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end('{"message":"Trellis is starting"}');
    });
    await new Promise<void>((resolve) => busy.listen(port, '127.0.0.1', resolve));
    closers.push(() => new Promise((resolve) => busy.close(() => resolve())));
    const starting = `http://127.0.0.1:${port}`;
    expect((await supabase([starting, alive.url]).from('notes').select('id').limit(1)).error).toBeNull();
    const post = await supabase([starting, alive.url]).from('notes').insert({ body: 'not sent on' });
    expect(post.status).toBe(503);
  });

  test('every endpoint gone: an error, not a hang', async () => {
    const hangUp = await misbehaving((socket) => socket.destroy());
    const client = supabase([stopped.url, hangUp]);
    let started = Date.now();
    const write = await client.from('notes').insert({ body: 'nowhere' });
    expect(write.error?.message).toMatch(/fetch failed/);
    expect(Date.now() - started).toBeLessThan(1000);
    // postgrest-js itself tries a failed GET three more times, 1, 2 and 4 s apart.
    started = Date.now();
    const read = await client.from('notes').select('id');
    expect(read.error?.message).toMatch(/fetch failed/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
