/**
 * SIGTERM drains (DESIGN.md's contract): /ready answers 503 at once while every other request is
 * still served for the grace period; then the server stops accepting, finishes what is in flight,
 * closes realtime sockets with 1001 (going away), stops the embedded database and exits 0 within
 * the grace + 10 s. SIGINT and a second signal skip the grace.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { runCli, startCli, tempProject, type RunningCli } from '../helpers/cli.js';
import { RawSocket, sleep } from '../helpers/realtime.js';

const MIGRATION = {
  '20240101000000_slow.sql': `create table notes (id serial primary key, body text not null);
insert into notes (body) values ('hello');
create function slow(ms int) returns int language sql as $$ select pg_sleep(ms / 1000.0); select ms $$;
`,
};

const anonKey = (server: RunningCli) => /anon key: (\S+)/.exec(server.output())?.[1] ?? '';

function rest(server: RunningCli, what: string, init: RequestInit = {}): Promise<Response> {
  const key = anonKey(server);
  return fetch(`${server.url}/rest/v1/${what}`, {
    ...init,
    headers: { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  });
}

describe('SIGTERM on the embedded database', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempProject(MIGRATION);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  test('answers /ready 503 at once, serves through the grace, finishes in-flight work and exits 0', async () => {
    const graceMs = 3000;
    const server = await startCli(dir, { DRAIN_GRACE_SECONDS: String(graceMs / 1000) });
    const socket = await RawSocket.open(server.url, anonKey(server));
    expect((await socket.join('room')).reply.status).toBe('ok');
    const exited = new Promise<number | null>((resolve) => server.child.on('exit', resolve));

    const signalled = Date.now();
    server.child.kill('SIGTERM');
    // The log line is written once the handler ran: from then on /ready must say so.
    while (!server.output().includes('draining')) await sleep(10);
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: 'draining' });
    expect(Date.now() - signalled).toBeLessThan(1000);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);

    // Requests are served to the end of the grace, each asking its client to reconnect elsewhere.
    const during = await rest(server, 'notes?select=body');
    expect(during.status).toBe(200);
    expect(during.headers.get('connection')).toBe('close');
    expect(await during.json()).toEqual([{ body: 'hello' }]);
    await sleep(graceMs - (Date.now() - signalled) - 600);
    expect((await rest(server, 'notes', { method: 'POST', body: '{"body":"late"}' })).status).toBe(201);
    expect(socket.closeCode).toBeUndefined();

    // Started within the grace, still running when the stop begins: it gets its answer.
    const inFlight = rest(server, 'rpc/slow', { method: 'POST', body: '{"ms":1500}' });
    await sleep(graceMs - (Date.now() - signalled) + 300);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
    const slow = await inFlight;
    expect(slow.status).toBe(200);
    expect(await slow.json()).toBe(1500);

    expect(await socket.waitClose(3000)).toBe(1001);
    expect(socket.closeReason).toBe('server shutting down');
    expect(await exited).toBe(0);
    const took = Date.now() - signalled;
    expect(took).toBeGreaterThanOrEqual(graceMs);
    expect(took).toBeLessThan(graceMs + 10_000);
    await expect(fs.access(path.join(dir, '.trellis', 'pg', 'postmaster.pid'))).rejects.toThrow();
    expect(server.output()).toContain('stopped');
  });
});

describe('skipping the grace', () => {
  let database: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    database = await freshDatabase();
    dir = await tempProject(MIGRATION);
  });
  afterAll(async () => {
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('a second SIGTERM stops at once', async () => {
    const server = await startCli(dir, { DATABASE_URL: database.url, DRAIN_GRACE_SECONDS: '60' });
    server.child.kill('SIGTERM');
    while (!server.output().includes('draining')) await sleep(10);
    expect((await fetch(`${server.url}/ready`)).status).toBe(503);
    expect((await rest(server, 'notes?select=body')).status).toBe(200);
    const stopped = await server.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
  });

  test('SIGINT (Ctrl-C at a terminal) stops without a grace', async () => {
    const server = await startCli(dir, { DATABASE_URL: database.url, DRAIN_GRACE_SECONDS: '60' });
    const stopped = await server.stop('SIGINT');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    expect(server.output()).not.toContain('draining');
  });

  test('DRAIN_GRACE_SECONDS=0 stops on the first SIGTERM', async () => {
    const server = await startCli(dir, { DATABASE_URL: database.url, DRAIN_GRACE_SECONDS: '0' });
    const stopped = await server.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    expect(stopped.ms).toBeLessThan(5000);
    expect(server.output()).not.toContain('draining');
  });

  test.each([['-1'], ['abc'], ['3601'], ['1.5']])('DRAIN_GRACE_SECONDS=%s is refused at start', async (value) => {
    const result = await runCli(['start', '--dir', dir], { DATABASE_URL: database.url, DRAIN_GRACE_SECONDS: value });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `trellis: DRAIN_GRACE_SECONDS: must be a whole number between 0 and 3600 (got "${value}")\n`,
    );
  });
});
