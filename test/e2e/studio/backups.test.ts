/**
 * Studio's backup buttons over real HTTP against a started server on a PostgreSQL server
 * (DATABASE_URL, so a backup is `trellis backup`'s pg_dump): start → poll the job → listed; restore
 * into an empty database brings back a row deleted since; bad input is a 4xx before any work.
 */
import { SignJWT } from 'jose';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freshDatabase, type TestDatabase } from '../../helpers/db.js';
import { studioCall } from '../../helpers/studio.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const MIGRATION = `
create table public.keep (id int primary key, note text not null);
insert into public.keep values (1, 'first'), (2, 'second'), (3, 'third');
`;

let server: TestServer;
let empty: TestDatabase;

const call = (method: string, url: string, options?: Parameters<typeof studioCall>[3]) =>
  studioCall(server, method, url, options);

/** Polls the job until it has ended; answers its last state. */
async function finished(id: string): Promise<Record<string, any>> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { status, body } = await call('GET', `/jobs/${id}`);
    expect(status).toBe(200);
    if (body.job.state !== 'running') return body.job;
    if (Date.now() > deadline) throw new Error(`job ${id} still running`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  server = await startTestServer({ migrations: { '20240101000000_keep.sql': MIGRATION } });
  empty = await freshDatabase();
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await empty?.drop();
});

describe('backups from Studio', () => {
  let backupId: string;

  test('a started backup is a job that can be polled, and ends listed', async () => {
    const started = await call('POST', '/backups', { body: { label: 'from studio' } });
    expect(started.status).toBe(202);
    expect(started.body.job).toMatchObject({ kind: 'backup', state: 'running', error: null });
    const job = await finished(started.body.job.id);
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    expect(job.result).toMatchObject({ kind: 'pg_dump', backup: expect.stringMatching(/^\d{8}T\d{9}Z$/) });
    expect(job.progress.step).toBe('pg_dump');
    expect(job.progress.done).toBeGreaterThan(0);
    backupId = job.result.backup;
    const listed = await call('GET', '/backups');
    expect(listed.body.backups).toContainEqual(
      expect.objectContaining({ id: backupId, complete: true, kind: 'pg_dump', label: 'from studio' }),
    );
    expect((await call('GET', '/jobs')).body.jobs[0].id).toBe(job.id);
  }, 90_000);

  test('a restore into an empty database brings back a row deleted after the backup', async () => {
    await server.sql.query('delete from public.keep where id = 2');
    const started = await call('POST', `/backups/${backupId}/restore`, {
      body: { confirm: backupId, databaseUrl: empty.url },
    });
    expect(started.status).toBe(202);
    expect(JSON.stringify(started.body)).not.toContain(empty.url);
    const job = await finished(started.body.job.id);
    expect(job.error).toBeNull();
    expect(job.state).toBe('succeeded');
    const restored = new pg.Client({ connectionString: empty.url });
    await restored.connect();
    try {
      const { rows } = await restored.query('select id, note from public.keep order by id');
      expect(rows).toEqual([
        { id: 1, note: 'first' },
        { id: 2, note: 'second' },
        { id: 3, note: 'third' },
      ]);
    } finally {
      await restored.end();
    }
    // The database is no longer empty: a second restore fails as a job, saying why.
    const again = await call('POST', `/backups/${backupId}/restore`, {
      body: { confirm: backupId, databaseUrl: empty.url },
    });
    const failed = await finished(again.body.job.id);
    expect(failed.state).toBe('failed');
    expect(failed.error).toMatch(/is not empty/);
  }, 90_000);

  test.each([
    [
      'no confirmation',
      '/backups/ID/restore',
      { databaseUrl: 'postgres://x@127.0.0.1/y' },
      400,
      'confirmation_required',
    ],
    [
      'a confirmation naming another backup',
      '/backups/ID/restore',
      { confirm: '20200101T000000000Z', databaseUrl: 'postgres://x@127.0.0.1/y' },
      400,
      'confirmation_required',
    ],
    [
      'an unknown backup id',
      '/backups/20200101T000000000Z/restore',
      { confirm: '20200101T000000000Z', databaseUrl: 'postgres://x@127.0.0.1/y' },
      404,
      'backup_not_found',
    ],
    ['a path in the backup id', '/backups/..%2F..%2Fetc/restore', { confirm: '../../etc' }, 400, 'validation_failed'],
    ['a backup id that is no id', '/backups/latest/restore', { confirm: 'latest' }, 400, 'validation_failed'],
    [
      'a pg_dump restored into a folder',
      '/backups/ID/restore',
      { confirm: 'ID', folder: 'copy' },
      400,
      'validation_failed',
    ],
    [
      'a database URL that is no URL',
      '/backups/ID/restore',
      { confirm: 'ID', databaseUrl: 'not a url' },
      400,
      'validation_failed',
    ],
    [
      'an unknown field',
      '/backups/ID/restore',
      { confirm: 'ID', databaseUrl: 'postgres://x@127.0.0.1/y', force: true },
      400,
      'validation_failed',
    ],
    ['a label of the wrong type', '/backups', { label: 42 }, 400, 'validation_failed'],
    ['a NUL in a label', '/backups', { label: 'a\u0000b' }, 400, 'validation_failed'],
  ])('%s', async (_name, url, body, status, code) => {
    // ID stands for the backup made above (the table is built before it exists).
    const res = await call('POST', url.replace('ID', backupId), {
      body: JSON.parse(JSON.stringify(body).replaceAll('"ID"', JSON.stringify(backupId))),
    });
    expect(res.status).toBe(status);
    expect(res.body.code).toBe(code);
    expect(res.body.message).toBeTruthy();
  });

  test('malformed JSON and a huge body are refused; an unknown job is 404', async () => {
    expect((await call('POST', '/backups', { raw: '{"label": ' })).status).toBe(400);
    expect((await call('POST', '/backups', { raw: JSON.stringify({ label: 'x'.repeat(2_000_000) }) })).status).toBe(
      413,
    );
    expect((await call('GET', `/jobs/${crypto.randomUUID()}`)).status).toBe(404);
  });

  test('the anon key and a user token are refused with 403', async () => {
    const user = await new SignJWT({ role: 'authenticated', sub: crypto.randomUUID(), aud: 'authenticated' })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(server.jwtSecret));
    for (const auth of [server.anonKey, user]) {
      expect((await call('POST', '/backups', { body: {}, auth })).status).toBe(403);
      expect((await call('POST', `/backups/${backupId}/restore`, { body: { confirm: backupId }, auth })).status).toBe(
        403,
      );
      expect((await call('GET', '/jobs', { auth })).status).toBe(403);
    }
  });
});
