import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, type TestDatabase } from '../helpers/db.js';
import { BIN, cliEnv, freePort, runCli, startCli, tempProject } from '../helpers/cli.js';

const MIGRATION = {
  '20240101000000_notes.sql': `create table notes (id serial primary key, body text not null);\ninsert into notes (body) values ('hello');\n`,
};

async function count(dbUrl: string, sql: string): Promise<number> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    return Number(Object.values((await client.query(sql)).rows[0] ?? {})[0]);
  } finally {
    await client.end();
  }
}

async function status(dir: string) {
  const result = await runCli(['status', '--dir', dir, '-o', 'json']);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as Record<string, string>;
}

describe('trellis start on the embedded database', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempProject(MIGRATION);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  test('serves health, readiness and metrics, reports its status, and stops cleanly on SIGTERM', async () => {
    const server = await startCli(dir);
    try {
      expect(server.output()).toContain('anon key: ey');
      // The first start makes the Studio password and prints it, once; a sign-in with it works.
      const password = /Studio password: (\S+)/.exec(server.output())?.[1] ?? '';
      expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
      const signIn = await fetch(`${server.url}/studio/api/session`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ password }),
      });
      expect(signIn.status).toBe(200);
      const health = await fetch(`${server.url}/health`);
      expect(health.status).toBe(200);
      expect(health.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
      const ready = await fetch(`${server.url}/ready`, { headers: { 'x-request-id': 'trace-123' } });
      // The embedded database's backup state is reported beside readiness, never as a reason for 503.
      expect(await ready.json()).toEqual({
        status: 'ready',
        backup: expect.objectContaining({ lastSuccess: null, pendingSegments: expect.any(Number) }) as unknown,
      });
      expect(ready.headers.get('x-request-id')).toBe('trace-123');
      const missing = await fetch(`${server.url}/nope/${'x'.repeat(50)}`);
      expect(missing.status).toBe(404);
      expect(await missing.json()).toEqual({ message: 'no Route matched with those values' });

      const serviceRoleKey = /service_role key: (\S+)/.exec(server.output())?.[1] ?? '';
      expect((await fetch(`${server.url}/metrics`)).status).toBe(401);
      const metrics = await (
        await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${serviceRoleKey}` } })
      ).text();
      expect(metrics).toMatch(/trellis_http_requests_total\{method="GET",route="\/health",status="200"\} 1/);
      expect(metrics).toMatch(/trellis_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/);
      expect(metrics).toMatch(/trellis_http_requests_total\{method="GET",route="\/metrics",status="401"\} 1/);
      expect(metrics).toMatch(
        /trellis_http_request_duration_seconds_bucket\{le="0.1",method="GET",route="\/ready",status="200"\} [1-9]\d*/,
      );
      expect(metrics).toMatch(/trellis_db_pool_idle \d+/);
      expect(metrics).toMatch(/trellis_db_pool_in_use \d+/);
      expect(metrics).toMatch(/trellis_db_pool_waiting 0/);
      expect(metrics).toMatch(/process_resident_memory_bytes \d+/);

      const info = await status(dir);
      expect(Object.keys(info)).toEqual(['API_URL', 'DB_URL', 'ANON_KEY', 'SERVICE_ROLE_KEY', 'JWT_SECRET']);
      expect(info.API_URL).toBe(server.url);
      const secret = new TextEncoder().encode(info.JWT_SECRET);
      expect((await jwtVerify(info.ANON_KEY ?? '', secret)).payload.role).toBe('anon');
      expect((await jwtVerify(info.SERVICE_ROLE_KEY ?? '', secret)).payload.role).toBe('service_role');
      expect(new URL(info.DB_URL ?? '').hostname).toBe('127.0.0.1');
      expect(new URL(info.DB_URL ?? '').port).not.toBe('5432');
      expect(await count(info.DB_URL ?? '', 'select count(*) from notes')).toBe(1);
      expect((await fs.stat(path.join(dir, '.trellis', 'secrets.json'))).mode & 0o777).toBe(0o600);

      const table = await runCli(['status', '--dir', dir]);
      expect(table.stdout).toContain(`API_URL  ${server.url}`);
    } finally {
      const stopped = await server.stop('SIGTERM');
      expect(stopped.code).toBe(0);
      expect(stopped.ms).toBeLessThan(10_000);
    }
    await expect(fs.access(path.join(dir, '.trellis', 'pg', 'postmaster.pid'))).rejects.toThrow();
    const after = await runCli(['status', '--dir', dir, '-o', 'json']);
    expect(after.code).toBe(1);
    expect(after.stderr).toMatch(/^trellis: Trellis is not running in /);
  });

  test('a second start keeps the data and runs each migration once', async () => {
    const server = await startCli(dir);
    try {
      expect(server.output()).toContain('Studio: http://');
      expect(server.output()).not.toContain('Studio password');
      const info = await status(dir);
      expect(await count(info.DB_URL ?? '', 'select count(*) from notes')).toBe(1);
      expect(await count(info.DB_URL ?? '', 'select count(*) from supabase_migrations.schema_migrations')).toBe(1);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });

  test('a start after kill -9 takes over the data folder and its orphaned database', async () => {
    const first = await startCli(dir);
    const keys = await status(dir);
    await first.stop('SIGKILL');
    const second = await startCli(dir);
    try {
      const info = await status(dir);
      expect(info.ANON_KEY).toBe(keys.ANON_KEY);
      expect(await count(info.DB_URL ?? '', 'select count(*) from notes')).toBe(1);
    } finally {
      expect((await second.stop('SIGINT')).code).toBe(0);
    }
  });

  test('trellis migrate applies pending files without serving, and through a running server', async () => {
    await fs.writeFile(
      path.join(dir, 'supabase', 'migrations', '20240102000000_more.sql'),
      `insert into notes (body) values ('more');`,
    );
    const dry = await runCli(['migrate', '--dir', dir, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain('1 migration(s) pending:\n  20240102000000_more.sql');
    const applied = await runCli(['migrate', '--dir', dir]);
    expect(applied.stderr).toBe('');
    expect(applied.stdout).toContain('1 migration(s) applied:\n  20240102000000_more.sql');

    await fs.writeFile(
      path.join(dir, 'supabase', 'migrations', '20240103000000_again.sql'),
      `insert into notes (body) values ('again');`,
    );
    const server = await startCli(dir);
    try {
      await fs.writeFile(
        path.join(dir, 'supabase', 'migrations', '20240104000000_live.sql'),
        `insert into notes (body) values ('live');`,
      );
      expect((await fetch(`${server.url}/ready`)).status).toBe(503);
      const live = await runCli(['migrate', '--dir', dir]);
      expect(live.stdout).toContain('20240104000000_live.sql');
      expect((await fetch(`${server.url}/ready`)).status).toBe(200);
      expect(await count((await status(dir)).DB_URL ?? '', 'select count(*) from notes')).toBe(4);
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });
});

describe('a signal during start', () => {
  let database: TestDatabase;
  let dir: string;
  beforeAll(async () => {
    database = await freshDatabase();
    dir = await tempProject({
      '20240101000000_slow.sql': 'create table slow (id int);\nselect pg_sleep(60);\n',
      '20240102000000_never.sql': 'create table never (id int);\n',
    });
  });
  afterAll(async () => {
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('cancels the migration in progress, applies no more, releases the folder and exits 0 within 10 s', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [BIN, 'start', '--dir', dir, '--port', String(port)], {
      env: cliEnv({ DATABASE_URL: database.url }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    // Wait for the first migration to be under way (the port is bound before migrations run).
    while (!output.includes('applying migration 1/2')) await new Promise((r) => setTimeout(r, 20));
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(503);
    const signalled = Date.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(output).toContain('stopped by SIGTERM before the server was ready');
    expect(await count(database.url, "select count(*) from pg_tables where tablename in ('slow', 'never')")).toBe(0);
    expect(await count(database.url, 'select count(*) from supabase_migrations.schema_migrations')).toBe(0);
    await expect(fs.access(path.join(dir, '.trellis', 'trellis.pid'))).rejects.toThrow();
  });
});

describe('trellis start with DATABASE_URL', () => {
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

  test('uses that server and starts no embedded database; status shows the JWT_SECRET in effect', async () => {
    const jwtSecret = 'a-cluster-wide-secret-of-at-least-32-chars';
    const server = await startCli(dir, { DATABASE_URL: database.url, JWT_SECRET: jwtSecret });
    try {
      const info = await status(dir);
      expect(info.DB_URL).toBe(database.url);
      expect(info.JWT_SECRET).toBe(jwtSecret);
      expect((await jwtVerify(info.ANON_KEY ?? '', new TextEncoder().encode(jwtSecret))).payload.role).toBe('anon');
      expect(await count(database.url, 'select count(*) from notes')).toBe(1);
      await expect(fs.access(path.join(dir, '.trellis', 'pg'))).rejects.toThrow();
    } finally {
      expect((await server.stop()).code).toBe(0);
    }
  });
});
