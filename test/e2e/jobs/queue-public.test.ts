/**
 * Supabase Queues from a client: `supabase.schema('pgmq_public').rpc(…)` against a started server,
 * where the caller's grants on the queue's table decide (an authenticated user allowed by a grant,
 * anon refused), as on a Supabase project.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const QUEUES = `
select pgmq.create('tasks');
grant select, insert, update, delete on pgmq.q_tasks, pgmq.a_tasks to authenticated;
select pgmq.create('internal');
`;

let server: TestServer;
let user: SupabaseClient;
let anon: SupabaseClient;

beforeAll(async () => {
  server = await startTestServer({
    migrations: { '20240101000000_queues.sql': QUEUES },
    env: { METRICS_PUBLIC: 'true' },
  });
  user = supabaseClient(server);
  const { error } = await user.auth.signUp({ email: 'worker@example.com', password: 'worker password' });
  if (error) throw error;
  anon = supabaseClient(server);
}, 120_000);
afterAll(async () => {
  await server?.stop();
});

describe('pgmq_public through supabase-js', () => {
  test('an authenticated user granted on the queue sends, reads, archives, pops and deletes', async () => {
    const queue = user.schema('pgmq_public');
    const sent = await queue.rpc('send', { queue_name: 'tasks', message: { hello: 'world' } });
    expect(sent.error).toBeNull();
    expect(sent.data).toEqual([expect.any(Number)]);
    const batch = await queue.rpc('send_batch', { queue_name: 'tasks', messages: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    expect(batch.error).toBeNull();
    expect(batch.data).toHaveLength(3);

    const read = await queue.rpc('read', { queue_name: 'tasks', sleep_seconds: 30, n: 2 });
    expect(read.error).toBeNull();
    const messages = read.data as { msg_id: number; read_ct: number; message: unknown }[];
    expect(messages.map((m) => m.message)).toEqual([{ hello: 'world' }, { n: 1 }]);
    expect(messages[0]).toMatchObject({ read_ct: 1, enqueued_at: expect.any(String), vt: expect.any(String) });

    const archived = await queue.rpc('archive', { queue_name: 'tasks', message_id: messages[0]!.msg_id });
    expect(archived).toMatchObject({ error: null, data: true });
    const deleted = await queue.rpc('delete', { queue_name: 'tasks', message_id: messages[1]!.msg_id });
    expect(deleted).toMatchObject({ error: null, data: true });
    const popped = await queue.rpc('pop', { queue_name: 'tasks' });
    expect(popped.error).toBeNull();
    expect((popped.data as { message: unknown }[]).map((m) => m.message)).toEqual([{ n: 2 }]);

    const { rows } = await server.sql.query('select message from pgmq.a_tasks');
    expect(rows).toEqual([{ message: { hello: 'world' } }]);
  });

  test('a delayed send stays invisible for its sleep_seconds', async () => {
    const queue = user.schema('pgmq_public');
    await server.sql.query(`select pgmq.purge_queue('tasks')`);
    await queue.rpc('send', { queue_name: 'tasks', message: { later: true }, sleep_seconds: 60 });
    const read = await queue.rpc('read', { queue_name: 'tasks', sleep_seconds: 30, n: 5 });
    expect(read).toMatchObject({ error: null, data: [] });
  });

  test('the same user is refused on a queue with no grant', async () => {
    const sent = await user.schema('pgmq_public').rpc('send', { queue_name: 'internal', message: {} });
    expect(sent.data).toBeNull();
    expect(sent.error).toMatchObject({ code: '42501' });
    expect(sent.status).toBe(403);
  });

  test('anon is refused', async () => {
    const sent = await anon.schema('pgmq_public').rpc('send', { queue_name: 'tasks', message: {} });
    expect(sent.error).toMatchObject({ code: '42501' });
    expect(sent.status).toBe(401);
    const read = await anon.schema('pgmq_public').rpc('read', { queue_name: 'tasks', sleep_seconds: 1, n: 1 });
    expect(read.error).toMatchObject({ code: '42501' });
  });

  test('a bad or unknown queue name is a 4xx that says so', async () => {
    const bad = await user.schema('pgmq_public').rpc('send', { queue_name: 'x; drop table pgmq.meta', message: {} });
    expect(bad.status).toBe(400);
    expect(bad.error?.message).toContain('invalid queue name');
    const missing = await user.schema('pgmq_public').rpc('pop', { queue_name: 'nowhere' });
    expect(missing.status).toBe(404);
    expect(missing.error?.message).toBe(`queue 'nowhere' does not exist`);
  });

  test('the service role may use every queue', async () => {
    const service = supabaseClient(server, server.serviceRoleKey);
    const sent = await service.schema('pgmq_public').rpc('send', { queue_name: 'internal', message: { s: 1 } });
    expect(sent.error).toBeNull();
  });

  test('/metrics reports each queue and the job runner', async () => {
    await server.sql.query(`select pgmq.send('internal', '{}')`);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/trellis_queue_depth\{queue="internal"\} [1-9]/);
    expect(text).toContain('trellis_queue_messages_sent{queue="tasks"}');
    expect(text).toContain('# TYPE trellis_jobs gauge');
    const { rows } = await server.sql.query(`select count(*)::int as n from trellis.dead_jobs`);
    expect(rows).toEqual([{ n: 0 }]);
  });
});
