/**
 * issue 12, item 9: /metrics is for the operator (the service_role key, or METRICS_PUBLIC), a
 * client that hangs up is no error, and a broken pooled connection is one log line.
 */
import http from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

interface LogLine {
  readonly level: number;
  readonly msg: string;
  readonly [field: string]: unknown;
}

const lines: LogLine[] = [];
const raw: string[] = [];
const log = pino(
  { level: 'debug' },
  { write: (text: string) => void (raw.push(text), lines.push(JSON.parse(text) as LogLine)) },
);

const MIGRATION = `
create table public.notes (id int primary key, body text);
grant select, insert on public.notes to anon, authenticated, service_role;
`;

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ log, migrations: { '20240101000000_notes.sql': MIGRATION } });
  expect((await supabaseClient(server, server.serviceRoleKey).storage.createBucket('uploads')).error).toBeNull();
});

afterAll(async () => {
  await server?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await sleep(50);
}

/** Sends the headers and part of a body announced larger, then hangs up. */
async function abandon(path: string, headers: Record<string, string>): Promise<void> {
  const url = new URL(path, server.url);
  const request = http.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(1_000_000) } });
  request.on('error', () => undefined);
  request.write(Buffer.alloc(64 * 1024, 97));
  await sleep(300);
  request.destroy();
}

describe('/metrics', () => {
  const metrics = (headers: Record<string, string> = {}) => fetch(`${server.url}/metrics`, { headers });

  test('is refused without the service_role key, as the API gateway refuses a missing or wrong key', async () => {
    const missing = await metrics();
    expect(missing.status).toBe(401);
    expect(await missing.json()).toMatchObject({ message: 'No API key found in request' });
    const anon = await metrics({ apikey: server.anonKey, authorization: `Bearer ${server.anonKey}` });
    expect(anon.status).toBe(401);
    expect(await anon.json()).toMatchObject({ message: 'Invalid API key' });
    expect((await metrics({ authorization: 'Bearer not-a-jwt' })).status).toBe(401);
  });

  test('is served with the service_role key, as an apikey header or a bearer token', async () => {
    const keys: Record<string, string>[] = [
      { apikey: server.serviceRoleKey },
      { authorization: `Bearer ${server.serviceRoleKey}` },
    ];
    for (const headers of keys) {
      const answer = await metrics(headers);
      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await answer.text()).toMatch(
        /trellis_http_requests_total\{method="GET",route="\/metrics",status="401"\} [1-9]/,
      );
    }
  });

  test('is public with METRICS_PUBLIC=true', async () => {
    const open = await startTestServer({ env: { METRICS_PUBLIC: 'true' } });
    try {
      const answer = await fetch(`${open.url}/metrics`);
      expect(answer.status).toBe(200);
      expect(await answer.text()).toMatch(/trellis_db_pool_idle \d+/);
    } finally {
      await open.stop();
    }
  });
});

describe('the log', () => {
  test('a client that hangs up mid-request is logged as aborted, not as an error', async () => {
    const from = lines.length;
    const key = { apikey: server.serviceRoleKey, authorization: `Bearer ${server.serviceRoleKey}` };
    // The data API reads the body itself; storage's upload notices the hang-up in its own stream.
    await abandon('/rest/v1/notes', { ...key, 'content-type': 'application/json' });
    await abandon('/storage/v1/object/uploads/big.bin', { ...key, 'content-type': 'application/octet-stream' });
    await until(() => lines.slice(from).filter((l) => l.msg === 'request').length >= 2);
    await sleep(200);
    const mine = lines.slice(from);
    expect(mine.filter((l) => l.level >= 50)).toEqual([]);
    expect(mine.filter((l) => l.msg === 'request aborted by the client')).toEqual([
      expect.objectContaining({ level: 30, reason: 'ECONNRESET' }),
    ]);
    // nginx's 499 "client closed request": counted apart from the server's own failures.
    expect(mine.filter((l) => l.msg === 'request' && l.route === '/rest/v1/:relation')).toEqual([
      expect.objectContaining({ status: 499 }),
    ]);
    // The server still serves.
    expect((await fetch(`${server.url}/rest/v1/notes`, { headers: { apikey: server.anonKey } })).status).toBe(200);
  });

  test('a pooled connection that breaks is one line with its code and message, not the pg Client', async () => {
    // Warm the pool, then end its idle connections from the server side (admin_shutdown, 57P01).
    await Promise.all(
      Array.from({ length: 4 }, () => fetch(`${server.url}/rest/v1/notes`, { headers: { apikey: server.anonKey } })),
    );
    const from = raw.length;
    const ended = await server.sql.query<{ n: number }>(
      "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = current_database() and application_name = 'trellis' and state = 'idle'",
    );
    expect(ended.rows[0]?.n).toBeGreaterThan(0);
    // Each ended connection is reported once it has been noticed: wait for all of them.
    const reported = () =>
      lines.slice(lines.length - (raw.length - from)).filter((l) => l.msg.startsWith('database connection failed'))
        .length;
    await until(() => reported() >= (ended.rows[0]?.n ?? 0));
    const broken = raw.slice(from).filter((text) => text.includes('database connection failed'));
    expect(broken.length).toBeGreaterThan(0);
    for (const text of broken) {
      const line = JSON.parse(text) as LogLine;
      expect(line.msg).toBe('database connection failed: 57P01: terminating connection due to administrator command');
      expect(line.level).toBe(40);
      expect(Object.keys(line).sort()).toEqual(['hostname', 'level', 'msg', 'pid', 'time']);
      expect(text.length).toBeLessThan(300);
    }
    // The pool opens new connections: the next requests are served.
    expect((await fetch(`${server.url}/rest/v1/notes`, { headers: { apikey: server.anonKey } })).status).toBe(200);
  });
});
