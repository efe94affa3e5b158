/**
 * Jobs added from SQL (src/sql/0150_job_outbox.sql, src/jobs/queue/outbox.ts), which web push's
 * trellis.send_push relies on: trellis.add_job in a committed transaction reaches the runner's
 * handler with its payload as written, a rolled-back one never does, a row written while no
 * runner drains waits for the next one, and a bad task name fails the caller's statement.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/pool.js';
import { createJobRunner, type JobRunner } from '../../src/jobs/index.js';
import { startJobOutbox, type JobOutbox } from '../../src/jobs/queue/outbox.js';
import { createLogger } from '../../src/platform/logger.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';

const log = createLogger({ level: 'silent', pretty: false });
let database: TestDatabase;
let db: Db;
let sql: pg.Pool;
let runner: JobRunner;
let outbox: JobOutbox | undefined;
const seen: { payload: unknown; attempt: number }[] = [];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
async function waitFor(what: string, probe: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-outbox-'));
  await migrate(db, empty, { dryRun: false, onProgress: () => undefined });
  await fs.rm(empty, { recursive: true, force: true });
  sql = new pg.Pool({ connectionString: database.url, max: 2 });
  runner = await createJobRunner({ url: database.url, log, retryDelaySeconds: 1 });
  await runner.handle<object>('from-sql', async (payload, job) => void seen.push({ payload, attempt: job.attempt }));
});

afterAll(async () => {
  await outbox?.stop();
  await runner?.close(1000);
  await sql?.end();
  await db?.close();
  await database?.drop();
});

describe('jobs added from SQL', () => {
  test('a row written while nothing drains waits, and the first drain hands it over', async () => {
    await sql.query(`select trellis.add_job('from-sql', '{"early": true}')`);
    await sleep(200);
    expect(seen).toEqual([]);
    outbox = await startJobOutbox({ db, log, runner, pollIntervalMs: 60_000 });
    await waitFor('the early job', () => seen.length === 1);
    expect(seen).toEqual([{ payload: { early: true }, attempt: 1 }]);
    expect((await sql.query('select 1 from trellis.job_outbox')).rowCount).toBe(0);
  });

  test('a committed add_job runs at once (NOTIFY), a rolled-back one never', async () => {
    seen.length = 0;
    const client = await sql.connect();
    try {
      await client.query('begin');
      await client.query(`select trellis.add_job('from-sql', '{"n": 1}')`);
      await client.query('rollback');
      await client.query('begin');
      await client.query(`select trellis.add_job('from-sql', '{"n": 2}')`);
      await client.query('commit');
    } finally {
      client.release();
    }
    const started = Date.now();
    await waitFor('the committed job', () => seen.length === 1);
    // The poll is a minute away: the notification woke the drain.
    expect(Date.now() - started).toBeLessThan(5000);
    await sleep(300);
    expect(seen.map((s) => s.payload)).toEqual([{ n: 2 }]);
  });

  test('many rows in one statement are all handed over, each once', async () => {
    seen.length = 0;
    await sql.query(`select trellis.add_job('from-sql', jsonb_build_object('i', i)) from generate_series(1, 1200) i`);
    await waitFor('1200 jobs', () => seen.length >= 1200, 60_000);
    await sleep(300);
    const ids = seen.map((s) => (s.payload as { i: number }).i).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
  }, 70_000);

  test.each([
    ['a name with a dot', `'a.dead'`, /invalid task name 'a.dead'/],
    ['a null name', 'null', /invalid task name null/],
  ])('%s fails the caller', async (_what, task, message) => {
    await expect(sql.query(`select trellis.add_job(${task}, '{}')`)).rejects.toThrow(message);
  });

  test('max_attempts under 1 fails the caller', async () => {
    await expect(sql.query(`select trellis.add_job('from-sql', '{}', null, 0)`)).rejects.toThrow(
      /max_attempts must be 1 or more, not 0/,
    );
  });
});
