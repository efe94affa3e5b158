/**
 * The pgmq surface (src/sql/0110_pgmq.sql) against a real PostgreSQL: what pgmq's functions do to
 * a queue's table and archive, visibility timeouts, delays, the dead-letter rule, metrics, and
 * queue names that are refused before they can reach SQL text.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Db } from '../../src/db/pool.js';
import { freshDatabase, migrateOwnSchema, testDb, type TestDatabase } from '../helpers/db.js';

let database: TestDatabase;
let db: Db;
let sql: pg.Pool;

interface Message {
  msg_id: string;
  read_ct: number;
  enqueued_at: Date;
  vt: Date;
  message: unknown;
}

const rows = async <T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]> =>
  (await sql.query(text, values)).rows as T[];
const one = async <T = unknown>(text: string, values?: unknown[]): Promise<T> =>
  Object.values((await rows(text, values))[0] ?? {})[0] as T;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  await migrateOwnSchema(db);
  sql = new pg.Pool({ connectionString: database.url, max: 3 });
});

afterAll(async () => {
  await sql?.end();
  await db?.close();
  await database?.drop();
});

describe('a queue', () => {
  test('create makes pgmq.q_<name> and pgmq.a_<name>, lists it, and is idempotent', async () => {
    await sql.query(`select pgmq.create('Orders')`);
    await sql.query(`select pgmq.create('orders')`);
    await sql.query(`select pgmq.create_unlogged('scratch')`);
    expect(await one(`select to_regclass('pgmq.q_orders')::text`)).toBe('pgmq.q_orders');
    expect(await one(`select to_regclass('pgmq.a_orders')::text`)).toBe('pgmq.a_orders');
    expect(await rows(`select queue_name, is_partitioned, is_unlogged from pgmq.list_queues()`)).toEqual([
      { queue_name: 'orders', is_partitioned: false, is_unlogged: false },
      { queue_name: 'scratch', is_partitioned: false, is_unlogged: true },
    ]);
    expect(await one(`select relpersistence from pg_class where oid = 'pgmq.q_scratch'::regclass`)).toBe('u');
  });

  test('send returns ids in order; read returns the message_record shape and hides what it read for vt', async () => {
    await sql.query(`select pgmq.create('hide')`);
    const ids = await rows<{ send: string }>(`select * from pgmq.send('hide', '{"n": 1}')`);
    const batch = await rows<{ send_batch: string }>(
      `select * from pgmq.send_batch('hide', array['{"n": 2}', '{"n": 3}']::jsonb[])`,
    );
    expect(batch.map((r) => Number(r.send_batch))).toEqual([Number(ids[0]!.send) + 1, Number(ids[0]!.send) + 2]);
    const read = await rows<Message>(`select * from pgmq.read('hide', 1, 2)`);
    expect(read.map((m) => m.message)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(Object.keys(read[0]!)).toEqual(['msg_id', 'read_ct', 'enqueued_at', 'vt', 'message']);
    expect(read[0]!.read_ct).toBe(1);
    // Hidden while their vt lasts: the next read gets only the third.
    expect((await rows<Message>(`select * from pgmq.read('hide', 1, 5)`)).map((m) => m.message)).toEqual([{ n: 3 }]);
    expect(await rows(`select * from pgmq.read('hide', 1, 5)`)).toEqual([]);
    await sleep(1100);
    const again = await rows<Message>(`select * from pgmq.read('hide', 30, 5)`);
    expect(again.map((m) => [m.message, m.read_ct])).toEqual([
      [{ n: 1 }, 2],
      [{ n: 2 }, 2],
      [{ n: 3 }, 2],
    ]);
  });

  test('read with a condition returns only messages containing it', async () => {
    await sql.query(`select pgmq.create('cond')`);
    await sql.query(`select pgmq.send_batch('cond', array['{"kind": "a"}', '{"kind": "b"}']::jsonb[])`);
    const got = await rows<Message>(`select * from pgmq.read('cond', 30, 5, '{"kind": "b"}')`);
    expect(got.map((m) => m.message)).toEqual([{ kind: 'b' }]);
  });

  test('a delayed message is invisible until its delay passes', async () => {
    await sql.query(`select pgmq.create('later')`);
    await sql.query(`select pgmq.send('later', '{"x": 1}', 1)`);
    expect(await rows(`select * from pgmq.read('later', 30, 1)`)).toEqual([]);
    await sleep(1100);
    expect((await rows<Message>(`select * from pgmq.read('later', 30, 1)`)).map((m) => m.message)).toEqual([{ x: 1 }]);
  });

  test('a message sent with a moment as its delay is invisible until then', async () => {
    await sql.query(`select pgmq.create('at')`);
    await sql.query(`select pgmq.send('at', '"soon"', clock_timestamp() + interval '1 second')`);
    await sql.query(`select pgmq.send_batch('at', array['"now"']::jsonb[], now() - interval '1 hour')`);
    expect((await rows<Message>(`select * from pgmq.read('at', 30, 5)`)).map((m) => m.message)).toEqual(['now']);
    await sleep(1100);
    expect((await rows<Message>(`select * from pgmq.read('at', 30, 5)`)).map((m) => m.message)).toEqual(['soon']);
  });

  test('pop removes the message it returns', async () => {
    await sql.query(`select pgmq.create('popped')`);
    await sql.query(`select pgmq.send_batch('popped', array['1', '2']::jsonb[])`);
    expect((await rows<Message>(`select * from pgmq.pop('popped')`)).map((m) => m.message)).toEqual([1]);
    expect(await one(`select count(*)::int from pgmq.q_popped`)).toBe(1);
    expect(await one(`select count(*)::int from pgmq.a_popped`)).toBe(0);
  });

  test('archive moves a message to pgmq.a_<name>; delete removes it; both say whether it was there', async () => {
    await sql.query(`select pgmq.create('done')`);
    const [a, b, c, d] = (
      await rows<{ id: string }>(
        `select send_batch as id from pgmq.send_batch('done', array['1','2','3','4']::jsonb[])`,
      )
    ).map((r) => Number(r.id));
    await sql.query(`select * from pgmq.read('done', 30, 1)`);
    expect(await one(`select pgmq.archive('done', $1::bigint)`, [a])).toBe(true);
    expect(await one(`select pgmq.archive('done', $1::bigint)`, [a])).toBe(false);
    const archived = await rows(`select msg_id::int, read_ct, message, archived_at is not null as at from pgmq.a_done`);
    expect(archived).toEqual([{ msg_id: a, read_ct: 1, message: 1, at: true }]);
    expect(await one(`select pgmq.delete('done', $1::bigint)`, [b])).toBe(true);
    expect(await one(`select pgmq.delete('done', $1::bigint)`, [b])).toBe(false);
    expect(
      (await rows(`select pgmq.archive('done', array[$1, 999]::bigint[]) as id`, [c])).map((r) => Number(r.id)),
    ).toEqual([c]);
    expect((await rows(`select pgmq.delete('done', array[$1]::bigint[]) as id`, [d])).map((r) => Number(r.id))).toEqual(
      [d],
    );
    expect(await one(`select count(*)::int from pgmq.q_done`)).toBe(0);
    expect(await one(`select count(*)::int from pgmq.a_done`)).toBe(2);
  });

  test('set_vt hides a message for the given seconds (or shows it at once with 0)', async () => {
    await sql.query(`select pgmq.create('vt')`);
    const id = await one<string>(`select * from pgmq.send('vt', '"m"')`);
    const [row] = await rows<Message>(`select * from pgmq.set_vt('vt', $1, 60)`, [id]);
    expect(row!.vt.getTime() - Date.now()).toBeGreaterThan(55_000);
    expect(await rows(`select * from pgmq.read('vt', 30, 1)`)).toEqual([]);
    await sql.query(`select * from pgmq.set_vt('vt', $1, 0)`, [id]);
    expect((await rows<Message>(`select * from pgmq.read('vt', 30, 1)`)).map((m) => m.message)).toEqual(['m']);
  });

  test('metrics and metrics_all report length, ages and the total ever sent; purge empties the queue', async () => {
    await sql.query(`select pgmq.create('counted')`);
    await sql.query(`select pgmq.send_batch('counted', array['1','2','3']::jsonb[])`);
    await sql.query(`select pgmq.archive('counted', (select min(msg_id) from pgmq.q_counted))`);
    await sql.query(`select * from pgmq.read('counted', 30, 1)`);
    const [m] = await rows(`select * from pgmq.metrics('counted')`);
    expect(m).toMatchObject({
      queue_name: 'counted',
      queue_length: '2',
      total_messages: '3',
      queue_visible_length: '1',
    });
    expect(Object.keys(m!)).toEqual([
      'queue_name',
      'queue_length',
      'newest_msg_age_sec',
      'oldest_msg_age_sec',
      'total_messages',
      'scrape_time',
      'queue_visible_length',
    ]);
    expect(m!.oldest_msg_age_sec).toBeGreaterThanOrEqual(0);
    const all = await rows<{ queue_name: string }>(`select queue_name from pgmq.metrics_all()`);
    expect(all.map((r) => r.queue_name)).toContain('counted');
    expect(await one(`select pgmq.purge_queue('counted')`)).toBe('2');
    expect(await one(`select queue_length::int from pgmq.metrics('counted')`)).toBe(0);
  });

  test('the longest names make distinct tables and indexes', async () => {
    const [a, b] = ['x'.repeat(46) + 'a', 'x'.repeat(46) + 'b'];
    await sql.query('select pgmq.create($1), pgmq.create($2)', [a, b]);
    const indexes = await rows<{ indexname: string }>(
      `select indexname from pg_indexes where schemaname = 'pgmq' and tablename = any($1) order by 1`,
      [[`q_${a}`, `a_${a}`, `q_${b}`, `a_${b}`]],
    );
    expect(new Set(indexes.map((i) => i.indexname)).size).toBe(8);
  });

  test('drop_queue removes both tables and says whether there was a queue', async () => {
    await sql.query(`select pgmq.create('gone')`);
    expect(await one(`select pgmq.drop_queue('gone')`)).toBe(true);
    expect(await one(`select pgmq.drop_queue('gone')`)).toBe(false);
    expect(await one(`select to_regclass('pgmq.q_gone')`)).toBeNull();
    expect(await one(`select count(*)::int from pgmq.meta where queue_name = 'gone'`)).toBe(0);
  });
});

describe('dead letters', () => {
  test('a message read max_reads times goes to the dead-letter queue instead of a further read', async () => {
    await sql.query(`select pgmq.create('flaky')`);
    await sql.query(`select trellis.set_queue_dead_letter('flaky', 2)`);
    await sql.query(`select pgmq.send('flaky', '{"job": 1}')`);
    expect((await rows<Message>(`select * from pgmq.read('flaky', 0, 1)`)).map((m) => m.read_ct)).toEqual([1]);
    expect((await rows<Message>(`select * from pgmq.read('flaky', 0, 1)`)).map((m) => m.read_ct)).toEqual([2]);
    expect(await rows(`select * from pgmq.read('flaky', 0, 1)`)).toEqual([]);
    expect(await one(`select count(*)::int from pgmq.q_flaky`)).toBe(0);
    expect((await rows<Message>(`select * from pgmq.read('flaky_dlq', 30, 5)`)).map((m) => m.message)).toEqual([
      { job: 1 },
    ]);
    expect(
      await rows(`select queue_name, max_reads, dead_letter_queue, dead_lettered::int from trellis.queue_dead_letters`),
    ).toEqual([{ queue_name: 'flaky', max_reads: 2, dead_letter_queue: 'flaky_dlq', dead_lettered: 1 }]);
  });

  test('stuck messages (read again and again) are visible in SQL', async () => {
    await sql.query(`select pgmq.create('stuck')`);
    await sql.query(`select pgmq.send('stuck', '"s"')`);
    await sql.query(`select * from pgmq.read('stuck', 0, 1)`);
    await sql.query(`select * from pgmq.read('stuck', 0, 1)`);
    const stuck = await rows(`select queue_name, read_ct, message from trellis.stuck_messages(2)`);
    expect(stuck).toContainEqual({ queue_name: 'stuck', read_ct: 2, message: 's' });
  });

  test('a rule needs a queue and max_reads of 1 or more', async () => {
    await expect(sql.query(`select trellis.set_queue_dead_letter('nope', 2)`)).rejects.toMatchObject({
      code: '42P01',
    });
    await sql.query(`select pgmq.create('ruled')`);
    await expect(sql.query(`select trellis.set_queue_dead_letter('ruled', 0)`)).rejects.toMatchObject({
      code: '22023',
    });
  });
});

describe('bad input', () => {
  test.each([[`x"; drop table pgmq.meta; --`], [`a b`], [`q-1`], [``], ['x'.repeat(48)], [`é`]])(
    'the queue name %j is refused with a clear error',
    async (name) => {
      for (const call of [
        `select pgmq.create($1)`,
        `select * from pgmq.send($1, '{}')`,
        `select * from pgmq.read($1, 1, 1)`,
        `select * from pgmq.metrics($1)`,
      ])
        await expect(sql.query(call, [name])).rejects.toMatchObject({
          code: '22023',
          message: expect.stringContaining('invalid queue name') as unknown,
        });
      expect(await one(`select to_regclass('pgmq.meta')::text`)).toBe('pgmq.meta');
    },
  );

  test('a null queue name is refused', async () => {
    await expect(sql.query(`select pgmq.create(null)`)).rejects.toMatchObject({ code: '22023' });
  });

  test('a queue that does not exist is named in the error', async () => {
    await expect(sql.query(`select * from pgmq.send('missing', '{}')`)).rejects.toMatchObject({
      code: '42P01',
      message: `queue 'missing' does not exist`,
    });
  });

  test('negative delays, a qty under 1 and a null vt are refused', async () => {
    await sql.query(`select pgmq.create('strict')`);
    await expect(sql.query(`select pgmq.send('strict', '{}', -1)`)).rejects.toMatchObject({ code: '22023' });
    await expect(sql.query(`select * from pgmq.read('strict', 1, 0)`)).rejects.toMatchObject({ code: '22023' });
    await expect(sql.query(`select * from pgmq.set_vt('strict', 1, null)`)).rejects.toMatchObject({ code: '22023' });
  });
});

describe('grants decide', () => {
  test('authenticated may use a queue only when granted on its table', async () => {
    await sql.query(`select pgmq.create('private')`);
    const asAuthenticated = async (text: string) => {
      const client = await sql.connect();
      try {
        await client.query('begin; set local role authenticated');
        return await client.query(text);
      } finally {
        await client.query('rollback');
        client.release();
      }
    };
    await expect(asAuthenticated(`select * from pgmq.send('private', '{}')`)).rejects.toMatchObject({ code: '42501' });
    await sql.query(`grant select, insert, update on pgmq.q_private to authenticated`);
    const sent = await asAuthenticated(`select * from pgmq.send('private', '{}')`);
    expect(sent.rowCount).toBe(1);
    await expect(asAuthenticated(`select * from pgmq.q_orders`)).rejects.toMatchObject({ code: '42501' });
  });
});
