/**
 * The LISTEN/NOTIFY bus against a real PostgreSQL: two buses stand for two worker processes on
 * one database. Large messages are cut into parts and joined; a terminated connection comes back.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Bus } from '../../../src/platform/bus/index.js';
import { createPostgresBus } from '../../../src/platform/bus/postgres.js';
import { createLogger } from '../../../src/platform/logger.js';
import { freshDatabase, type TestDatabase } from '../../helpers/db.js';
import { sleep, waitFor } from '../../helpers/realtime.js';

const log = createLogger({ level: 'silent', pretty: false });
let database: TestDatabase;
const buses: Bus[] = [];

beforeAll(async () => {
  database = await freshDatabase();
});
afterAll(async () => {
  for (const bus of buses) await bus.close();
  await database.drop();
});

async function bus(applicationName = 'trellis-bus'): Promise<Bus> {
  const b = createPostgresBus({ url: database.url, log, applicationName });
  buses.push(b);
  await waitFor(() => b.isHealthy(), 10_000, 'the bus to connect');
  return b;
}

async function sql<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    return (await client.query<T>(text, values)).rows;
  } finally {
    await client.end();
  }
}

describe('PostgreSQL bus', () => {
  test('text and bytes published by one process reach the subscribers of every process, itself included', async () => {
    const [a, b] = [await bus(), await bus()];
    const topic = `t-${crypto.randomUUID()}`;
    const atA: unknown[] = [];
    const atB: unknown[] = [];
    a.subscribe(topic, (m) => atA.push(m));
    b.subscribe(topic, (m) => atB.push(m));
    b.subscribe(`${topic}-other`, () => atB.push('wrong topic'));
    await a.publish(topic, 'héllo');
    await a.publish(topic, new Uint8Array([0, 116, 255]));
    await waitFor(() => atA.length === 2 && atB.length === 2);
    for (const got of [atA, atB]) {
      expect(got[0]).toBe('héllo');
      expect([...(got[1] as Uint8Array)]).toEqual([0, 116, 255]);
    }
    expect(a.shared && b.shared).toBe(true);
  });

  test('messages from one process arrive in the order they were published, none folded together', async () => {
    const [a, b] = [await bus(), await bus()];
    const topic = `t-${crypto.randomUUID()}`;
    const got: string[] = [];
    b.subscribe(topic, (m) => got.push(String(m)));
    // Published without waiting: they go out in batches, identical ones in one transaction.
    const sent = Array.from({ length: 500 }, (_, i) => (i % 50 === 0 ? 'same' : `m${i}`));
    await Promise.all(sent.map((m) => a.publish(topic, m)));
    await waitFor(() => got.length === sent.length, 10_000, 'all 500 messages');
    expect(got).toEqual(sent);
  });

  test('a message over NOTIFY’s 8000-byte limit (text and bytes, up to megabytes) arrives whole', async () => {
    const [a, b] = [await bus(), await bus()];
    const topic = `t-${crypto.randomUUID()}`;
    const got: (string | Uint8Array)[] = [];
    b.subscribe(topic, (m) => got.push(m));
    const text = `{"big":"${'ü'.repeat(50_000)}\\u0000"}\0`;
    const bytes = new Uint8Array(crypto.randomBytes(3 * 1024 * 1024));
    await a.publish(topic, text);
    await a.publish(topic, bytes);
    await a.publish(topic, 'small after');
    await waitFor(() => got.length === 3, 20_000, 'three messages');
    expect(got[0]).toBe(text);
    expect(Buffer.from(got[1] as Uint8Array).equals(Buffer.from(bytes))).toBe(true);
    expect(got[2]).toBe('small after');
  });

  test('a message too large for the bus is refused to the publisher, and the bus goes on', async () => {
    const a = await bus();
    const topic = `t-${crypto.randomUUID()}`;
    const got: unknown[] = [];
    a.subscribe(topic, (m) => got.push(m));
    await expect(a.publish(topic, new Uint8Array(33 * 1024 * 1024))).rejects.toThrow(/larger than/);
    await a.publish(topic, 'still works');
    await waitFor(() => got.includes('still works'));
  });

  test('payloads that are not the bus’s on its channel are ignored', async () => {
    const a = await bus();
    const topic = `t-${crypto.randomUUID()}`;
    const got: unknown[] = [];
    a.subscribe(topic, (m) => got.push(m));
    await sql("select pg_notify('trellis_bus', $1)", ['not a bus message']);
    await sql("select pg_notify('trellis_bus', $1)", [`x:1:t:0:1:${topic.length}:${topic}forged but well-formed`]);
    await a.publish(topic, 'real');
    await waitFor(() => got.includes('real'));
    // Anyone who may NOTIFY on the database may also speak the format: the bus is not a security boundary.
    expect(got).toEqual(['forged but well-formed', 'real']);
  });

  test('a terminated connection: unhealthy and failing fast meanwhile, back with its subscriptions', async () => {
    const name = `trellis-bus-${crypto.randomBytes(4).toString('hex')}`;
    const [a, b] = [await bus(name), await bus()];
    const topic = `t-${crypto.randomUUID()}`;
    const got: unknown[] = [];
    a.subscribe(topic, (m) => got.push(m));
    await sql('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1', [name]);
    await waitFor(() => !a.isHealthy(), 5000, 'the loss to be seen');
    const started = Date.now();
    await expect(a.publish(topic, 'while down')).rejects.toThrow(/unreachable/);
    expect(Date.now() - started).toBeLessThan(100);
    await waitFor(() => a.isHealthy(), 10_000, 'the bus to reconnect');
    await b.publish(topic, 'after');
    await waitFor(() => got.includes('after'));
    expect(got).toEqual(['after']);
  });

  test('an unreachable server: unhealthy, publish fails fast, close does not hang', async () => {
    const b = createPostgresBus({ url: 'postgres://postgres@127.0.0.1:1/postgres', log, connectTimeoutMs: 500 });
    b.subscribe('t', () => undefined);
    await sleep(300);
    expect(b.isHealthy()).toBe(false);
    await expect(b.publish('t', 'x')).rejects.toThrow(/unreachable/);
    await b.close();
  });

  test('close sends what was accepted, then publishes are refused', async () => {
    const [a, b] = [await bus(), await bus()];
    const topic = `t-${crypto.randomUUID()}`;
    const got: unknown[] = [];
    b.subscribe(topic, (m) => got.push(m));
    const pending = [a.publish(topic, 'one'), a.publish(topic, 'two')];
    await a.close();
    await Promise.all(pending);
    await expect(a.publish(topic, 'late')).rejects.toThrow(/closed/);
    await waitFor(() => got.length === 2);
    expect(got).toEqual(['one', 'two']);
  });
});
