/**
 * Studio's queues and cron endpoints over real HTTP against a started server: pgmq queues with
 * their depth, age and dead-letter rule, purged on confirmation; cron jobs with their last runs,
 * paused and resumed. Bad input is a 4xx; the anon key and a user's token are refused.
 */
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { studioCall } from '../../helpers/studio.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const MIGRATION = `
select pgmq.create('emails');
select pgmq.send('emails', jsonb_build_object('n', n)) from generate_series(1, 3) n;
select trellis.set_queue_dead_letter('emails', 5);
select cron.schedule('studio-tick', '1 seconds', 'select 1');
`;

let server: TestServer;

type Named = Record<string, any> & { name: string };
/** The entry of `list` (an answer's array) with that name. */
const named = (list: unknown, name: string): Named | undefined => (list as Named[]).find((e) => e.name === name);

const call = (method: string, url: string, options?: Parameters<typeof studioCall>[3]) =>
  studioCall(server, method, url, options);

beforeAll(async () => {
  server = await startTestServer({ migrations: { '20240101000000_queues.sql': MIGRATION } });
}, 60_000);

afterAll(async () => {
  await server?.stop();
});

describe('queues', () => {
  test('lists each queue with its depth, oldest message age and dead-letter rule', async () => {
    const { status, body } = await call('GET', '/queues');
    expect(status).toBe(200);
    const emails = named(body.queues, 'emails')!;
    expect(emails).toMatchObject({
      depth: 3,
      visible: 3,
      totalSent: '3',
      deadLetter: { queue: 'emails_dlq', maxReads: 5, moved: 0, waiting: 0 },
    });
    expect(emails.oldestAgeSeconds).toBeGreaterThanOrEqual(0);
    expect((body.queues as Named[]).map((q) => q.name)).toContain('emails_dlq');
    expect(Array.isArray(body.deadJobs)).toBe(true);
  });

  test('purging needs the name repeated, then empties the queue', async () => {
    const refused = await call('POST', '/queues/emails/purge', { body: {} });
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe('confirmation_required');
    expect((await server.sql.query('select count(*)::int as n from pgmq.q_emails')).rows[0].n).toBe(3);
    const purged = await call('POST', '/queues/emails/purge', { body: { confirm: 'emails' } });
    expect(purged.status).toBe(200);
    expect(purged.body).toEqual({ queue: 'emails', purged: 3 });
    const after = named((await call('GET', '/queues')).body.queues, 'emails')!;
    expect(after.depth).toBe(0);
  });

  test.each([
    ['a name pgmq refuses', '/queues/no-dashes/purge', { confirm: 'no-dashes' }, 400],
    ['a path for a name', '/queues/..%2Fq_emails/purge', { confirm: '../q_emails' }, 400],
    ['an unknown queue', '/queues/nosuchqueue/purge', { confirm: 'nosuchqueue' }, 404],
    ['another queue named in confirm', '/queues/emails/purge', { confirm: 'emails_dlq' }, 400],
    ['an unknown field', '/queues/emails/purge', { confirm: 'emails', all: true }, 400],
    ['confirm of the wrong type', '/queues/emails/purge', { confirm: 1 }, 400],
  ])('%s: %i', async (_name, url, body, status) => {
    const res = await call('POST', url, { body });
    expect(res.status).toBe(status);
    expect(res.body.message).toBeTruthy();
  });
});

describe('cron', () => {
  test('lists jobs with their schedule, command and last runs; pause and resume', async () => {
    await expect
      .poll(
        async () => {
          const { body } = await call('GET', '/cron');
          return named(body.jobs, 'studio-tick')?.lastRuns[0]?.status;
        },
        { timeout: 15_000, interval: 250 },
      )
      .toBe('succeeded');
    const { body } = await call('GET', '/cron');
    expect(body.schedulerEnabled).toBe(true);
    const job = named(body.jobs, 'studio-tick')!;
    expect(job).toMatchObject({ schedule: '1 seconds', command: 'select 1', active: true });
    expect(job.lastRuns[0]).toMatchObject({ status: 'succeeded', returnMessage: '1 row' });
    expect(Date.parse(job.lastRuns[0].scheduledAt)).toBeGreaterThan(0);
    expect(job.lastRuns.length).toBeLessThanOrEqual(5);

    const paused = await call('POST', `/cron/${job.id}/pause`);
    expect(paused.status).toBe(200);
    expect(paused.body.job).toMatchObject({ id: job.id, active: false });
    expect((await server.sql.query('select active from cron.job where jobid = $1', [job.id])).rows[0].active).toBe(
      false,
    );
    // Paused: no new run starts (one already claimed may still finish).
    await new Promise((r) => setTimeout(r, 1500));
    const runs = async () =>
      Number(
        (await server.sql.query('select count(*) from cron.job_run_details where jobid = $1', [job.id])).rows[0].count,
      );
    const before = await runs();
    await new Promise((r) => setTimeout(r, 2500));
    expect(await runs()).toBe(before);

    const resumed = await call('POST', `/cron/${job.id}/resume`);
    expect(resumed.body.job).toMatchObject({ id: job.id, active: true });
    await expect.poll(runs, { timeout: 10_000, interval: 250 }).toBeGreaterThan(before);
  }, 40_000);

  test.each([
    ['an id that is no number', '/cron/abc/pause', 400],
    ['an id too long to be one', `/cron/${'9'.repeat(30)}/pause`, 400],
    ['an unknown job', '/cron/987654321/resume', 404],
  ])('%s: %i', async (_name, url, status) => {
    const res = await call('POST', url);
    expect(res.status).toBe(status);
    expect(res.body.message).toBeTruthy();
  });
});

test('the anon key and a user token are refused with 403', async () => {
  const user = await new SignJWT({ role: 'authenticated', sub: crypto.randomUUID(), aud: 'authenticated' })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(server.jwtSecret));
  for (const auth of [server.anonKey, user]) {
    expect((await call('GET', '/queues', { auth })).status).toBe(403);
    expect((await call('POST', '/queues/emails/purge', { body: { confirm: 'emails' }, auth })).status).toBe(403);
    expect((await call('GET', '/cron', { auth })).status).toBe(403);
    expect((await call('POST', '/cron/1/pause', { auth })).status).toBe(403);
  }
});
