/**
 * net.http_get/post/delete and supabase_functions.http_request against a real PostgreSQL and a
 * receiver on loopback: what reaches the receiver, what lands in net._http_response, retries of
 * webhooks, their signatures, two senders on one database, and the calls refused.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { Db } from '../../src/db/pool.js';
import { startNetSender, type NetSender, type NetSenderOptions } from '../../src/jobs/webhooks/index.js';
import { finishRequests } from '../../src/jobs/webhooks/queue.js';
import { createLogger } from '../../src/platform/logger.js';
import { freshDatabase, migrateOwnSchema, testDb, type TestDatabase } from '../helpers/db.js';
import { closedPort, okAnswer, startReceiver, type Receiver } from './webhooks-receiver.js';

const KEY = crypto.randomBytes(32);
let database: TestDatabase;
let db: Db;
let sql: pg.Pool;
let receiver: Receiver;
let sender: NetSender;

interface Response {
  id: string;
  status_code: number | null;
  content_type: string | null;
  headers: Record<string, string> | null;
  content: string | null;
  timed_out: boolean | null;
  error_msg: string | null;
}

const senderOptions = (over: Partial<NetSenderOptions> = {}): NetSenderOptions => ({
  db,
  log: createLogger({ level: 'silent', pretty: false }),
  concurrency: 8,
  pollIntervalMs: 200,
  responseTtlS: 3600,
  maxResponseBytes: 65_536,
  retry: { retries: 3, backoffMs: 50 },
  signingKeys: [KEY],
  // These tests queue no request to a function (test/e2e/functions/targets.test.ts does).
  functions: { baseUrl: 'http://127.0.0.1:9', serviceRoleKey: 'unused' },
  ...over,
});

const one = async <T>(text: string, values?: unknown[]): Promise<T> =>
  Object.values((await sql.query(text, values)).rows[0] ?? {})[0] as T;

async function responseOf(id: string, timeoutMs = 8000): Promise<Response> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await sql.query<Response>('select * from net._http_response where id = $1', [id]);
    if (rows[0]) return rows[0];
    if (Date.now() > until) throw new Error(`no response for request ${id} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

const queued = () => one<string>('select count(*)::text from net.http_request_queue');

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  await migrateOwnSchema(db);
  sql = new pg.Pool({ connectionString: database.url, max: 4 });
  receiver = await startReceiver();
  sender = await startNetSender(senderOptions());
});

afterAll(async () => {
  await sender?.close();
  await receiver?.close();
  await sql?.end();
  await db?.close();
  await database?.drop();
});

beforeEach(() => {
  receiver.received.length = 0;
  receiver.answer = okAnswer;
});

describe('net.http_*', () => {
  test('http_get sends the params and headers and records status, headers and content', async () => {
    const id = await one<string>(`select net.http_get($1, '{"q": "a b/é", "n": 2}', '{"X-Test": "yes"}')`, [
      `${receiver.url}/get`,
    ]);
    const response = await responseOf(id);
    expect(response).toMatchObject({ status_code: 200, content_type: 'application/json', content: '{"ok":true}' });
    expect(response.timed_out).toBe(false);
    expect(response.error_msg).toBeNull();
    expect(response.headers?.['x-reply']).toBe('yes');
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]).toMatchObject({ method: 'GET', url: '/get?n=2&q=a%20b%2F%C3%A9' });
    expect(receiver.received[0]?.headers['x-test']).toBe('yes');
    expect(receiver.received[0]?.headers['user-agent']).toBe('trellis-net');
    // A plain request is not a webhook: not signed.
    expect(receiver.received[0]?.headers['webhook-signature']).toBeUndefined();
    expect(await queued()).toBe('0');
  });

  test('http_post sends its JSON body with a JSON content type', async () => {
    const id = await one<string>(
      `select net.http_post($1, '{"hello": "world"}', headers => '{"User-Agent": "mine"}')`,
      [`${receiver.url}/post`],
    );
    expect((await responseOf(id)).status_code).toBe(200);
    const got = receiver.received[0];
    // The caller's User-Agent replaces the sender's, whatever its case.
    expect(got?.headers['user-agent']).toBe('mine');
    expect(got?.method).toBe('POST');
    expect(got?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(got?.body.toString() ?? '')).toEqual({ hello: 'world' });
  });

  test('http_delete sends a DELETE, with a body when given one', async () => {
    const id = await one<string>(`select net.http_delete($1, body => '{"id": 7}')`, [`${receiver.url}/things`]);
    expect((await responseOf(id)).status_code).toBe(200);
    expect(receiver.received[0]).toMatchObject({ method: 'DELETE', url: '/things' });
    expect(JSON.parse(receiver.received[0]?.body.toString() ?? '')).toEqual({ id: 7 });
  });

  test('a rolled-back transaction sends nothing', async () => {
    const client = await sql.connect();
    try {
      await client.query('begin');
      await client.query('select net.http_post($1)', [`${receiver.url}/never`]);
      await client.query('rollback');
    } finally {
      client.release();
    }
    sender.wake();
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.received).toHaveLength(0);
    expect(await queued()).toBe('0');
  });

  test('a receiver that never answers hits the timeout: timed_out', async () => {
    receiver.answer = () => undefined;
    const started = Date.now();
    const id = await one<string>(`select net.http_get($1, timeout_milliseconds => 300)`, [`${receiver.url}/slow`]);
    const response = await responseOf(id);
    expect(response).toMatchObject({ timed_out: true, status_code: null });
    expect(response.error_msg).toMatch(/timeout/i);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  test('a refused connection is an error_msg, not a timeout', async () => {
    const port = await closedPort();
    const id = await one<string>(`select net.http_get($1)`, [`http://127.0.0.1:${port}/`]);
    const response = await responseOf(id);
    expect(response).toMatchObject({ timed_out: false, status_code: null });
    expect(response.error_msg).toMatch(/ECONNREFUSED/);
  });

  test('a plain request that gets a 500 is not retried (pg_net sends once)', async () => {
    receiver.answer = (_r, res) => res.writeHead(500).end('down');
    const id = await one<string>(`select net.http_post($1)`, [`${receiver.url}/down`]);
    expect(await responseOf(id)).toMatchObject({ status_code: 500, content: 'down' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received).toHaveLength(1);
  });

  test('a huge response body is cut at the bound', async () => {
    receiver.answer = (_r, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('x'.repeat(300_000));
    const id = await one<string>(`select net.http_get($1)`, [`${receiver.url}/big`]);
    const response = await responseOf(id);
    expect(response.status_code).toBe(200);
    expect(response.content).toHaveLength(65_536);
  });
});

describe('supabase_functions.http_request', () => {
  beforeAll(async () => {
    await sql.query(`
      create table public.items (id int primary key, name text);
      create trigger items_hook after insert or update or delete on public.items for each row
        execute function supabase_functions.http_request('${receiver.url}/hook', 'POST',
          '{"Content-Type":"application/json","X-Source":"db"}', '{}', '2000');
    `);
  });

  const hookCount = () => one<string>('select count(*)::text from supabase_functions.hooks');

  const deliveries = async (n: number) => {
    const until = Date.now() + 8000;
    while (receiver.received.length < n && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
    return receiver.received.map((r) => JSON.parse(r.body.toString()) as Record<string, unknown>);
  };

  test('insert, update and delete each send {type, table, schema, record, old_record}', async () => {
    const before = Number(await hookCount());
    await sql.query(`insert into public.items values (1, 'one')`);
    await deliveries(1);
    await sql.query(`update public.items set name = 'uno' where id = 1`);
    await deliveries(2);
    await sql.query(`delete from public.items where id = 1`);
    const bodies = await deliveries(3);
    expect(bodies).toEqual([
      { type: 'INSERT', table: 'items', schema: 'public', record: { id: 1, name: 'one' }, old_record: null },
      {
        type: 'UPDATE',
        table: 'items',
        schema: 'public',
        record: { id: 1, name: 'uno' },
        old_record: { id: 1, name: 'one' },
      },
      { type: 'DELETE', table: 'items', schema: 'public', record: null, old_record: { id: 1, name: 'uno' } },
    ]);
    expect(receiver.received[0]?.headers['x-source']).toBe('db');
    expect(Number(await hookCount()) - before).toBe(3);
    const hook = (
      await sql.query<{ hook_name: string; table: string }>(
        `select hook_name, hook_table_id::regclass::text as table from supabase_functions.hooks order by id desc limit 1`,
      )
    ).rows[0];
    expect(hook).toEqual({ hook_name: 'items_hook', table: 'items' });
  });

  test('the signature verifies with the secret (Standard Webhooks)', async () => {
    await sql.query(`insert into public.items values (2, 'two')`);
    await deliveries(1);
    const got = receiver.received[0];
    const id = String(got?.headers['webhook-id']);
    const timestamp = String(got?.headers['webhook-timestamp']);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(10);
    const expected = crypto
      .createHmac('sha256', KEY)
      .update(`${id}.${timestamp}.`)
      .update(got?.body ?? '')
      .digest('base64');
    expect(got?.headers['webhook-signature']).toBe(`v1,${expected}`);
    // Another key does not verify it.
    const other = crypto.createHmac('sha256', crypto.randomBytes(32)).update(`${id}.${timestamp}.`).digest('base64');
    expect(got?.headers['webhook-signature']).not.toBe(`v1,${other}`);
  });

  test('a receiver that answers 500 then 200 gets the retry; the final response is the 200', async () => {
    let calls = 0;
    receiver.answer = (_r, res) => {
      calls += 1;
      if (calls === 1) res.writeHead(500).end('try later');
      else res.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
    };
    await sql.query(`insert into public.items values (3, 'three')`);
    const id = await one<string>(`select request_id::text from supabase_functions.hooks order by id desc limit 1`);
    const response = await responseOf(id);
    expect(response).toMatchObject({ status_code: 200, content: 'thanks' });
    expect(receiver.received).toHaveLength(2);
    // One message, two attempts: the same webhook-id, each signed.
    expect(receiver.received[0]?.headers['webhook-id']).toBe(receiver.received[1]?.headers['webhook-id']);
    expect(receiver.received[1]?.headers['webhook-signature']).toMatch(/^v1,/);
  });

  test('a webhook that keeps failing stops after the retries, with the last outcome recorded', async () => {
    receiver.answer = (_r, res) => res.writeHead(503).end('no');
    await sql.query(`insert into public.items values (4, 'four')`);
    const id = await one<string>(`select request_id::text from supabase_functions.hooks order by id desc limit 1`);
    expect((await responseOf(id)).status_code).toBe(503);
    expect(receiver.received).toHaveLength(4);
  });

  test('a row written by an API role fires the webhook; the role may call net.* (as on Supabase), not read its tables', async () => {
    const client = await sql.connect();
    try {
      await client.query('begin');
      await client.query('set local role authenticated');
      await client.query(`insert into public.items values (5, 'five')`);
      await client.query('commit');
      await client.query('begin');
      await client.query('set local role anon');
      await client.query('select net.http_get($1)', [`${receiver.url}/by-anon`]);
      await client.query('savepoint tables');
      await expect(client.query('select * from net._http_response')).rejects.toMatchObject({ code: '42501' });
      await client.query('rollback to savepoint tables');
      await expect(client.query('select * from net.http_request_queue')).rejects.toMatchObject({ code: '42501' });
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect((await deliveries(1))[0]).toMatchObject({ type: 'INSERT', record: { id: 5, name: 'five' } });
    // anon's call was rolled back with its transaction: nothing went out for it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(receiver.received.map((r) => r.url)).toEqual(['/hook']);
  });

  test('a bad trigger argument makes the write fail with a clear error', async () => {
    await sql.query(`
      create table public.bad_hook (id int);
      create trigger bad after insert on public.bad_hook for each row
        execute function supabase_functions.http_request('ftp://example.com/x', 'POST', '{}', '{}', '1000');
      create table public.bad_method (id int);
      create trigger bad after insert on public.bad_method for each row
        execute function supabase_functions.http_request('${receiver.url}', 'PUT', '{}', '{}', '1000');`);
    await expect(sql.query('insert into public.bad_hook values (1)')).rejects.toMatchObject({
      code: '22023',
      message: expect.stringMatching(/url must be an http:\/\/ or https:\/\/ URL/),
    });
    await expect(sql.query('insert into public.bad_method values (1)')).rejects.toMatchObject({
      code: '22023',
      message: expect.stringMatching(/method PUT is not POST or GET/),
    });
  });
});

describe('bad input is refused in SQL, queueing nothing', () => {
  test.each([
    ['an ftp:// url', `select net.http_get('ftp://example.com/file')`, /url must be an http:\/\/ or https:\/\/ URL/],
    ['a url without a host', `select net.http_get('http://')`, /url must be an http/],
    ['a url with a space', `select net.http_get('http://example.com/a b')`, /spaces or control characters/],
    [
      'headers that are not an object',
      `select net.http_get('http://example.com', headers => '[]')`,
      /headers must be a JSON object/,
    ],
    [
      'a header with a number',
      `select net.http_get('http://example.com', headers => '{"X-A": 1}')`,
      /header X-A must be/,
    ],
    [
      'a header holding a line break',
      `select net.http_get('http://example.com', headers => '{"X-A": "a\\r\\nB: c"}')`,
      /header X-A/,
    ],
    [
      'a header name that is not a token',
      `select net.http_get('http://example.com', headers => '{"X A": "b"}')`,
      /header X A/,
    ],
    [
      'params that are not an object',
      `select net.http_get('http://example.com', params => '"a=1"')`,
      /params must be a JSON object/,
    ],
    ['a nested param', `select net.http_get('http://example.com', params => '{"a": {"b": 1}}')`, /param a must be/],
    [
      'a zero timeout',
      `select net.http_get('http://example.com', timeout_milliseconds => 0)`,
      /timeout_milliseconds must be/,
    ],
  ])('%s', async (_name, text, message) => {
    await expect(sql.query(text)).rejects.toMatchObject({ code: '22023', message: expect.stringMatching(message) });
    expect(await queued()).toBe('0');
  });

  test('NUL bytes in a url or a JSON string are refused by PostgreSQL itself', async () => {
    await expect(sql.query('select net.http_get($1)', ['http://example.com/\u0000'])).rejects.toMatchObject({
      code: '22021',
    });
    await expect(
      sql.query(`select net.http_post('http://example.com', '{"a": "\\u0000"}'::jsonb)`),
    ).rejects.toMatchObject({ code: '22P05' });
    expect(await queued()).toBe('0');
  });
});

describe('two senders on one database', () => {
  test('deliver each request once', async () => {
    const second = testDb(database.url);
    const other = await startNetSender(senderOptions({ db: second, concurrency: 4 }));
    try {
      const ids = (
        await sql.query<{ id: string }>(
          `select net.http_get($1 || '/n/' || i) as id from generate_series(1, 60) as i`,
          [receiver.url],
        )
      ).rows.map((r) => r.id);
      for (const id of ids) expect((await responseOf(id)).status_code).toBe(200);
      const paths = receiver.received.map((r) => r.url).sort();
      expect(paths).toHaveLength(60);
      expect(new Set(paths).size).toBe(60);
    } finally {
      await other.close();
      await second.close();
    }
  });
});

describe('the sender', () => {
  test('a stopping sender puts its request in flight back; the next one sends it', async () => {
    const second = testDb(database.url);
    // Only this sender runs: the shared one stops and comes back afterwards.
    await sender.close();
    let lone = await startNetSender(senderOptions({ db: second }));
    try {
      let release: (() => void) | undefined;
      receiver.answer = (_r, res) => {
        release = () => res.writeHead(200).end('late');
      };
      const id = await one<string>(`select net.http_get($1, timeout_milliseconds => 20000)`, [`${receiver.url}/held`]);
      const until = Date.now() + 5000;
      while (receiver.received.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
      await lone.close();
      release?.();
      expect(
        (await sql.query('select claimed_until, attempts from net.http_request_queue where id = $1', [id])).rows,
      ).toEqual([{ claimed_until: null, attempts: 0 }]);
      receiver.answer = okAnswer;
      lone = await startNetSender(senderOptions({ db: second }));
      expect((await responseOf(id)).status_code).toBe(200);
    } finally {
      await lone.close();
      await second.close();
      sender = await startNetSender(senderOptions());
    }
  });

  test('a lease that ran out (its instance died) is taken over; a live one is left alone', async () => {
    await sender.close();
    try {
      const [dead, live] = (
        await sql.query<{ id: string }>(
          `select net.http_get($1 || '/lease/' || i) as id from generate_series(1, 2) i`,
          [receiver.url],
        )
      ).rows.map((r) => r.id);
      await sql.query(
        `update net.http_request_queue set claimed_until = now() - interval '1 second', attempts = 1 where id = $1`,
        [dead],
      );
      await sql.query(
        `update net.http_request_queue set claimed_until = now() + interval '1 hour', attempts = 1 where id = $1`,
        [live],
      );
      sender = await startNetSender(senderOptions());
      expect((await responseOf(dead ?? '')).status_code).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(receiver.received.map((r) => r.url)).toEqual(['/lease/1']);
      await sql.query('delete from net.http_request_queue where id = $1', [live]);
    } finally {
      sender.wake();
    }
  });

  test('outcomes are counted for /metrics, by kind, status class and whether a retry follows', async () => {
    const registry = new Registry();
    await sender.close();
    sender = await startNetSender(senderOptions({ registry }));
    let calls = 0;
    receiver.answer = (_r, res) => {
      calls += 1;
      res.writeHead(calls === 1 ? 500 : 200).end();
    };
    const id = await one<string>(`select net._trellis_enqueue('POST', $1, '{}', '{}', null, 2000, true)`, [
      `${receiver.url}/counted`,
    ]);
    expect((await responseOf(id)).status_code).toBe(200);
    const plain = await one<string>(`select net.http_get($1)`, [`${receiver.url}/counted`]);
    await responseOf(plain);
    const text = await registry.metrics();
    expect(text).toContain('trellis_net_requests_total{kind="webhook",outcome="5xx",retried="true"} 1');
    expect(text).toContain('trellis_net_requests_total{kind="webhook",outcome="2xx",retried="false"} 1');
    expect(text).toContain('trellis_net_requests_total{kind="net",outcome="2xx",retried="false"} 1');
  });

  test('outcomes written in one batch: each as it was, none for a request another instance finished', async () => {
    await sender.close();
    try {
      const ids = (
        await sql.query<{ id: string }>(
          `select net.http_get('http://example.com/' || i) as id from generate_series(1, 3) i`,
        )
      ).rows.map((r) => r.id);
      const [answered = '', timedOut = '', failed = ''] = ids;
      await finishRequests(db, [
        {
          id: answered,
          outcome: {
            kind: 'response',
            status: 201,
            contentType: 'text/plain',
            headers: { 'x-quote': 'a "b" \\ c' },
            content: 'made',
            truncated: false,
          },
        },
        { id: timedOut, outcome: { kind: 'timeout', message: 'Timeout of 5 ms reached' } },
        { id: failed, outcome: { kind: 'error', message: 'getaddrinfo ENOTFOUND example.invalid' } },
        { id: '999999', outcome: { kind: 'error', message: 'not queued' } },
      ]);
      expect(await responseOf(answered)).toMatchObject({
        status_code: 201,
        content_type: 'text/plain',
        headers: { 'x-quote': 'a "b" \\ c' },
        content: 'made',
        timed_out: false,
        error_msg: null,
      });
      expect(await responseOf(timedOut)).toMatchObject({ status_code: null, timed_out: true });
      expect(await responseOf(failed)).toMatchObject({
        timed_out: false,
        error_msg: expect.stringMatching(/ENOTFOUND/),
      });
      expect(await one<string>(`select count(*)::text from net._http_response where id = 999999`)).toBe('0');
      expect(await queued()).toBe('0');
    } finally {
      sender = await startNetSender(senderOptions());
    }
  });

  test('responses older than the TTL are deleted', async () => {
    await sql.query(
      `insert into net._http_response (id, status_code, created) values (-1, 200, now() - interval '2 days')`,
    );
    await sender.close();
    sender = await startNetSender(senderOptions({ responseTtlS: 86_400 }));
    const until = Date.now() + 5000;
    while ((await one<string>('select count(*)::text from net._http_response where id = -1')) !== '0') {
      if (Date.now() > until) throw new Error('the old response is still there');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  test('an idle sender looks at an empty queue once per poll interval, not in a loop', async () => {
    await sender.close();
    expect(await queued()).toBe('0');
    let queries = 0;
    const counting = new Proxy(db, {
      get: (target, key, receiver) =>
        key === 'query'
          ? (...args: Parameters<Db['query']>) => (queries++, target.query(...args))
          : (Reflect.get(target, key, receiver) as unknown),
    });
    sender = await startNetSender(senderOptions({ db: counting, pollIntervalMs: 200 }));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    // Each look is a claim and a look at when the next row is due: about 5 looks in a second.
    expect(queries).toBeGreaterThanOrEqual(2);
    expect(queries).toBeLessThanOrEqual(16);
    await sender.close();
    sender = await startNetSender(senderOptions());
  });

  test('on a database without the net schema the sender says so and does nothing', async () => {
    const bare = await freshDatabase();
    const bareDb = testDb(bare.url);
    const warnings: string[] = [];
    const log = createLogger({ level: 'silent', pretty: false });
    log.warn = (message: string) => void warnings.push(message);
    try {
      const inert = await startNetSender(senderOptions({ db: bareDb, log }));
      await inert.close();
      expect(warnings).toEqual([expect.stringMatching(/net schema is missing/)]);
    } finally {
      await bareDb.close();
      await bare.drop();
    }
  });
});
