/**
 * The "done when": a backup taken while rows are inserted steadily, then restored to the
 * latest archived point (every acknowledged row is there) and to a time between two known commits
 * (exactly the rows acknowledged before it). A storage object uploaded before that time is served
 * by the restored server.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateKey } from '../../src/project/key-file.js';
import { startCli, tempProject, type RunningCli } from '../helpers/cli.js';
import { backupDir, statusOf, trellis, withPg } from './helpers.js';

const client = (url: string, key: string) =>
  createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: WebSocket as unknown as never },
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = { BACKUP_SHIP_INTERVAL: '1' };

let dir: string;
let server: RunningCli | undefined;
const cleanup: string[] = [];
/** Acknowledged inserts, in order: the id and when the commit returned. */
const acked: { id: number; at: number }[] = [];
let betweenTime: string;
/** The project's signing key: the backup must carry it, or the restored project refuses its tokens. */
const signingKey = generateKey('ES256');
let ackedBeforeT: number;

/** Inserts rows one commit at a time until `stop()`; `pause()` holds the loop between two commits. */
function insertLoop(url: string) {
  const client = new pg.Client({ connectionString: url });
  let running = true;
  let paused: (() => void) | undefined;
  let hold: Promise<void> | undefined;
  const done = (async () => {
    await client.connect();
    let id = acked.at(-1)?.id ?? 0;
    while (running) {
      if (hold) await hold;
      id++;
      await client.query('insert into public.events (id) values ($1)', [id]);
      acked.push({ id, at: Date.now() });
      await sleep(2);
    }
    await client.end();
  })();
  return {
    pause: async () => {
      hold = new Promise<void>((r) => (paused = r));
      // The commit in flight, if any, returns before the pause takes hold.
      const last = acked.length;
      await sleep(50);
      if (acked.length !== last) await sleep(50);
    },
    resume: () => {
      const r = paused;
      hold = undefined;
      r?.();
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

beforeAll(async () => {
  dir = await tempProject({
    '20260101000000_events.sql':
      'create table public.events (id int primary key, at timestamptz not null default clock_timestamp());',
  });
  cleanup.push(dir);
  await fs.mkdir(path.join(dir, '.trellis'), { recursive: true });
  await fs.writeFile(path.join(dir, '.trellis', 'signing-keys.json'), JSON.stringify([signingKey]), { mode: 0o600 });
  server = await startCli(dir, env);
}, 120_000);

afterAll(async () => {
  await server?.stop();
  for (const d of cleanup) await fs.rm(d, { recursive: true, force: true });
});

describe('backup under a steady insert load, then point-in-time restore', () => {
  let status: Awaited<ReturnType<typeof statusOf>>;

  test('before any backup, the archived WAL is dropped, not kept or shipped', async () => {
    status = await statusOf(dir);
    await withPg(status.DB_URL, async (c) => {
      for (let i = 0; i < 3; i++) {
        await c.query('create temporary table if not exists noise (x int); insert into noise values (1)');
        await c.query('select pg_switch_wal()');
      }
    });
    const archive = path.join(dir, '.trellis', 'wal-archive');
    const segments = async () => (await fs.readdir(archive)).filter((n) => /^[0-9A-F]{24}$/.test(n));
    const deadline = Date.now() + 15_000;
    while ((await segments()).length > 0) {
      if (Date.now() > deadline) throw new Error(`the local archive kept ${(await segments()).join(', ')}`);
      await sleep(200);
    }
    await expect(fs.readdir(path.join(backupDir(dir), 'wal'))).rejects.toThrow();
  }, 60_000);

  test('backup while rows are inserted; a time between two known commits; WAL shipped', async () => {
    status = await statusOf(dir);
    const admin = client(status.API_URL, status.SERVICE_ROLE_KEY);
    expect((await admin.storage.createBucket('files')).error).toBeNull();
    const up = await admin.storage
      .from('files')
      .upload('before.txt', new Blob(['uploaded before T']), { contentType: 'text/plain' });
    expect(up.error).toBeNull();

    const loop = insertLoop(status.DB_URL);
    await sleep(1000);
    const beforeBackup = acked.length;
    const backup = await trellis(['backup', '--dir', dir], env);
    expect(backup.code, backup.stderr).toBe(0);
    // The load went on while the backup ran: nothing was stopped.
    expect(acked.length - beforeBackup).toBeGreaterThan(50);
    expect(backup.stdout).toMatch(/backup \d{8}T\d{9}Z complete/);
    // After the backup, before T: the running server's service ships it.
    const between = await admin.storage
      .from('files')
      .upload('between.txt', new Blob(['uploaded after the backup, before T']));
    expect(between.error).toBeNull();
    await sleep(1000);

    // Commit A acknowledged before T, commit B started after T.
    await loop.pause();
    ackedBeforeT = acked.at(-1)!.id;
    await sleep(300);
    betweenTime = new Date().toISOString();
    await sleep(300);
    const after = await admin.storage.from('files').upload('after.txt', new Blob(['uploaded after T']));
    expect(after.error).toBeNull();
    loop.resume();
    await sleep(1000);
    await loop.stop();
    expect(acked.length).toBeGreaterThan(ackedBeforeT);

    // Every acknowledged commit into the archive, and the archive to the target.
    await withPg(status.DB_URL, async (c) => {
      const { rows } = await c.query<{ wal: string }>('select pg_walfile_name(pg_switch_wal()) as wal');
      const wal = rows[0]!.wal;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const shipped = (await fs.readdir(path.join(backupDir(dir), 'wal'), { recursive: true })).some((n) =>
          path.basename(n).startsWith(wal),
        );
        if (shipped) break;
        if (Date.now() > deadline) throw new Error(`segment ${wal} was not shipped`);
        await sleep(200);
      }
    });
    const storageFiles = async () =>
      (await fs.readdir(path.join(backupDir(dir), 'storage'), { recursive: true, withFileTypes: true })).filter((f) =>
        f.isFile(),
      ).length;
    const deadline = Date.now() + 30_000;
    while ((await storageFiles()) < 3) {
      if (Date.now() > deadline) throw new Error('the storage files were not shipped');
      await sleep(200);
    }
  }, 120_000);

  test('verify: the backup taken under load matches its snapshot exactly (recovery stops just before its LSN)', async () => {
    const r = await trellis(['backup', 'verify', '--dir', dir], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/public\.events: OK \d+ rows/);
  }, 120_000);

  test('restore --to-latest: every acknowledged row is there, and the storage object', async () => {
    const into = path.join(path.dirname(dir), `${path.basename(dir)}-latest`);
    cleanup.push(into);
    const r = await trellis(['restore', '--from', backupDir(dir), '--to-latest', '--dir', into]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('to the latest point archived');
    const restored = await startCli(into);
    try {
      const s = await statusOf(into);
      const ids = await withPg(s.DB_URL, async (c) =>
        (await c.query<{ id: number }>('select id from public.events order by id')).rows.map((x) => x.id),
      );
      expect(ids).toEqual(acked.map((a) => a.id));
      const api = client(s.API_URL, s.SERVICE_ROLE_KEY);
      const file = await api.storage.from('files').download('before.txt');
      expect(file.error).toBeNull();
      expect(await file.data!.text()).toBe('uploaded before T');
      const jwks = (await (await fetch(`${s.API_URL}/auth/v1/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      expect(jwks.keys.map((k) => k.kid)).toEqual([signingKey.kid]);
    } finally {
      await restored.stop();
    }
  }, 180_000);

  test('restore --to-time T: exactly the rows acknowledged before T, none after', async () => {
    const into = path.join(path.dirname(dir), `${path.basename(dir)}-time`);
    cleanup.push(into);
    const r = await trellis(['restore', '--from', backupDir(dir), '--to-time', betweenTime, '--dir', into]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`to ${betweenTime}`);
    const restored = await startCli(into);
    try {
      const s = await statusOf(into);
      const ids = await withPg(s.DB_URL, async (c) =>
        (await c.query<{ id: number }>('select id from public.events order by id')).rows.map((x) => x.id),
      );
      expect(ids).toEqual(acked.filter((a) => a.id <= ackedBeforeT).map((a) => a.id));
      const api = client(s.API_URL, s.SERVICE_ROLE_KEY);
      const before = await api.storage.from('files').download('before.txt');
      expect(await before.data?.text()).toBe('uploaded before T');
      const between = await api.storage.from('files').download('between.txt');
      expect(await between.data?.text()).toBe('uploaded after the backup, before T');
      // Its row was committed after T: the restored database does not know it.
      const after = await api.storage.from('files').download('after.txt');
      expect(after.error).not.toBeNull();
    } finally {
      await restored.stop();
    }
  }, 180_000);
});
