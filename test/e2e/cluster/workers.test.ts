/**
 * `trellis start --workers 2` as a user runs it, without Redis: supabase-js clients spread over
 * both workers (each /metrics series names its worker) see each other's broadcasts and presence,
 * and every subscriber gets each postgres_change exactly once; a killed worker is replaced and its
 * clients come back; SIGTERM stops workers and database with exit 0. Once on the embedded
 * database (postgres_changes: wal_level=logical), once on a server given by DATABASE_URL.
 */
import http from 'node:http';
import fs from 'node:fs/promises';
import path from 'node:path';
import { createClient, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { runCli, startCli, tempProject, type RunningCli } from '../../helpers/cli.js';
import { freshDatabase, type TestDatabase } from '../../helpers/db.js';
import { closeRealtime, sleep, subscribed, waitFor } from '../../helpers/realtime.js';

const NOTES = `
create table public.notes (id bigint generated always as identity primary key, body text not null);
alter table public.notes enable row level security;
create policy "notes are public" on public.notes for select to anon, authenticated using (true);
grant select on public.notes to anon, authenticated;
alter publication supabase_realtime add table public.notes;
`;
const CLIENTS = 6;
const REST_LIMIT = 10;
type State = Record<string, unknown[]>;

/** GET on a connection of its own, so that the cluster hands each request to the next worker. */
function getFresh(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // A connection handed to a worker as it dies is cut or never answered: no answer, not a hang.
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0, body: '' }));
  });
}

/** Open realtime sockets per worker pid, from /metrics answered by each worker in turn. */
async function socketsByWorker(url: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < 8; i++) {
    const { body } = await getFresh(`${url}/metrics`);
    const m = /^trellis_realtime_connections\{worker="(\d+)"\} (\d+)$/m.exec(body);
    if (m) seen.set(m[1]!, Number(m[2]));
  }
  return seen;
}

const setups = [
  { name: 'the embedded database', changes: true },
  { name: 'a server in DATABASE_URL', changes: false },
] as const;

describe.each(setups)('two workers on $name, no Redis', ({ changes }) => {
  let cli: RunningCli;
  let dir: string;
  let database: TestDatabase | undefined;
  let anonKey = '';
  const clients: SupabaseClient[] = [];
  const channels: RealtimeChannel[] = [];
  const broadcasts: unknown[][] = [];
  const inserts: number[][] = [];

  beforeAll(async () => {
    dir = await tempProject({ '20240101000000_notes.sql': NOTES });
    const env: Record<string, string> = {
      TRELLIS_WORKERS: '2',
      METRICS_PUBLIC: 'true',
      LOG_LEVEL: 'warn',
      // One budget for the box: the primary counts for both workers.
      RATE_LIMIT_REST: `${REST_LIMIT}/1m`,
    };
    if (!changes) {
      database = await freshDatabase();
      env.DATABASE_URL = database.url;
    }
    // The child must not find Redis: the bus between workers is PostgreSQL's.
    const saved = process.env.REDIS_URL;
    delete process.env.REDIS_URL;
    try {
      cli = await startCli(dir, env);
    } finally {
      if (saved !== undefined) process.env.REDIS_URL = saved;
    }
    anonKey = /anon key: (\S+)/.exec(cli.output())![1]!;
    for (let i = 0; i < CLIENTS; i++) {
      const client = createClient(cli.url, anonKey, {
        auth: { persistSession: false, autoRefreshToken: false },
        realtime: { transport: WebSocket as unknown as never },
      });
      clients.push(client);
      const got: unknown[] = [];
      const rows: number[] = [];
      broadcasts.push(got);
      inserts.push(rows);
      const channel = client
        .channel('room', { config: { presence: { key: `user${i}` } } })
        .on('broadcast', { event: 'say' }, (m) => got.push(m.payload))
        .on('presence', { event: 'sync' }, () => undefined);
      if (changes)
        channel.on(
          'postgres_changes',
          { event: 'INSERT', schema: 'public', table: 'notes' },
          (p: { new: { id: number } }) => void rows.push(p.new.id),
        );
      channels.push(await subscribed(channel, 20_000));
    }
  }, 120_000);

  afterAll(async () => {
    await closeRealtime(...clients);
    if (cli?.child.exitCode === null) await cli.stop('SIGKILL');
    await database?.drop().catch(() => undefined);
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('the clients are spread over both workers, and `trellis status` names one API URL', async () => {
    const sockets = await socketsByWorker(cli.url);
    expect(sockets.size).toBe(2);
    expect([...sockets.values()].every((n) => n > 0)).toBe(true);
    expect([...sockets.values()].reduce((a, b) => a + b, 0)).toBe(CLIENTS);
    const status = await runCli(['status', '--dir', dir, '-o', 'json']);
    expect(status.code).toBe(0);
    expect((JSON.parse(status.stdout) as { API_URL: string }).API_URL).toBe(cli.url);
  });

  test('every client receives every other client’s broadcast, once', async () => {
    for (const [i, channel] of channels.entries())
      expect(await channel.send({ type: 'broadcast', event: 'say', payload: { from: i } })).toBe('ok');
    await waitFor(() => broadcasts.every((got) => got.length === CLIENTS - 1), 10_000, 'every broadcast');
    await sleep(300);
    for (const [i, got] of broadcasts.entries()) {
      const expected = [...Array(CLIENTS).keys()].filter((j) => j !== i).map((j) => ({ from: j }));
      expect(got).toHaveLength(CLIENTS - 1);
      expect(got).toEqual(expect.arrayContaining(expected));
    }
  });

  test('every client sees every client’s presence, and a leave', async () => {
    for (const [i, channel] of channels.entries()) expect(await channel.track({ n: i })).toBe('ok');
    const everyone = [...Array(CLIENTS).keys()].map((i) => `user${i}`).sort();
    for (const channel of channels)
      await waitFor(
        () => JSON.stringify(Object.keys(channel.presenceState() as State).sort()) === JSON.stringify(everyone),
        10_000,
        'the whole presence picture',
      );
    await channels[0]!.untrack();
    for (const channel of channels.slice(1))
      await waitFor(() => !(channel.presenceState() as State).user0, 10_000, 'user0 to leave everywhere');
    await channels[0]!.track({ n: 0 });
  });

  test('/ready and /metrics on every worker carry the backups the primary runs (embedded database only)', async () => {
    for (let i = 0; i < 4; i++) {
      const ready = JSON.parse((await getFresh(`${cli.url}/ready`)).body) as { status: string; backup?: object };
      expect(ready.status).toBe('ready');
      if (changes) expect(ready.backup).toMatchObject({ schedule: null, shippingFailed: false });
      else expect(ready.backup).toBeUndefined();
      const metrics = (await getFresh(`${cli.url}/metrics`)).body;
      expect(metrics).toMatch(/^trellis_http_requests_total\{/m);
      if (changes) expect(metrics).toMatch(/^trellis_wal_archive_pending_segments \d/m);
      else expect(metrics).not.toMatch(/trellis_wal_archive/);
    }
  });

  test('a data-API rate limit is one budget for the box, not one per worker', async () => {
    // Fresh connections alternate between the workers: counted per worker, all 2 × 10 would pass.
    const answers = [];
    for (let i = 0; i < 2 * REST_LIMIT; i++) answers.push(await getFresh(`${cli.url}/rest/v1/notes?apikey=${anonKey}`));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(REST_LIMIT);
    expect(statuses.filter((s) => s === 429)).toHaveLength(REST_LIMIT);
  });

  if (!changes)
    console.warn(
      'workers on a DATABASE_URL server: the postgres_changes test is skipped (the shared test server has wal_level=replica; the embedded setup runs it)',
    );
  test.runIf(changes)('each subscriber receives a committed insert exactly once', async () => {
    await insertNote('one');
    await waitFor(() => inserts.every((rows) => rows.length === 1), 15_000, 'the insert on every subscriber');
    await sleep(500);
    expect(inserts.map((rows) => rows.length)).toEqual(Array(CLIENTS).fill(1));
  });

  test('a killed worker is replaced; its clients come back and hear the others again', async () => {
    const before = await socketsByWorker(cli.url);
    const [victim] = [...before.keys()];
    process.kill(Number(victim), 'SIGKILL');
    const deadline = Date.now() + 30_000;
    let now = new Map<string, number>();
    while (Date.now() < deadline) {
      now = await socketsByWorker(cli.url);
      if (now.size === 2 && !now.has(victim!) && [...now.values()].reduce((a, b) => a + b, 0) === CLIENTS) break;
      await sleep(250);
    }
    expect(now.has(victim!)).toBe(false);
    expect(now.size).toBe(2);
    expect([...now.values()].reduce((a, b) => a + b, 0)).toBe(CLIENTS);
    expect(cli.output()).toContain('a worker died; starting another');
    // The clients of the killed worker reconnected (to the survivor); newcomers reach the new worker
    // too, and what they send reaches everyone.
    await waitFor(() => channels.every((c) => c.state === 'joined'), 20_000, 'every channel to rejoin');
    for (const got of broadcasts) got.length = 0;
    const newcomers: RealtimeChannel[] = [];
    for (let i = 0; i < 2; i++) {
      const client = createClient(cli.url, anonKey, {
        auth: { persistSession: false, autoRefreshToken: false },
        realtime: { transport: WebSocket as unknown as never },
      });
      clients.push(client);
      newcomers.push(await subscribed(client.channel('room'), 20_000));
    }
    const spread = await socketsByWorker(cli.url);
    expect([...spread.values()].every((n) => n > 0)).toBe(true);
    for (const [i, channel] of newcomers.entries())
      expect(await channel.send({ type: 'broadcast', event: 'say', payload: { newcomer: i } })).toBe('ok');
    await waitFor(() => broadcasts.every((got) => got.length === 2), 10_000, 'the newcomers’ broadcasts');
    if (changes) {
      // The WAL reader may have been the killed worker: the survivor takes the slot over.
      for (const rows of inserts) rows.length = 0;
      await insertNote('two');
      await waitFor(() => inserts.every((rows) => rows.length === 1), 20_000, 'the insert after the kill');
    }
  });

  test('SIGTERM stops the workers and the database; exit 0', async () => {
    const pids = [...(await socketsByWorker(cli.url)).keys()].map(Number);
    await closeRealtime(...clients);
    const { code, ms } = await cli.stop('SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(15_000);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    await expect(fs.access(path.join(dir, '.trellis', 'trellis.pid'))).rejects.toThrow();
    if (changes) {
      const postmaster = await fs.readFile(path.join(dir, '.trellis', 'pg', 'postmaster.pid'), 'utf8').catch(() => '');
      expect(postmaster).toBe('');
    }
  });

  async function insertNote(body: string): Promise<void> {
    const status = await runCli(['status', '--dir', dir, '-o', 'json']);
    const { SERVICE_ROLE_KEY } = JSON.parse(status.stdout) as { SERVICE_ROLE_KEY: string };
    const res = await fetch(`${cli.url}/rest/v1/notes`, {
      method: 'POST',
      headers: {
        apikey: SERVICE_ROLE_KEY,
        authorization: `Bearer ${SERVICE_ROLE_KEY}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ body }),
    });
    expect(res.status).toBe(201);
  }
});
