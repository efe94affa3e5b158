import crypto from 'node:crypto';
import net from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import type { Bus } from '../../src/platform/bus/index.js';
import { createMemoryBus } from '../../src/platform/bus/memory.js';
import { createRedisBus } from '../../src/platform/bus/redis.js';
import { createLogger } from '../../src/platform/logger.js';
import { waitFor } from '../helpers/realtime.js';

const log = createLogger({ level: 'silent', pretty: false });
const redisUrl = process.env.REDIS_URL;
const closing: Bus[] = [];
afterAll(async () => {
  for (const bus of closing) await bus.close();
});

function contract(name: string, make: () => Bus) {
  describe(`${name} bus`, () => {
    test('text and bytes arrive as they were published, to every subscriber of the topic only', async () => {
      const bus = make();
      closing.push(bus);
      const topic = `t-${crypto.randomUUID()}`;
      const got: (string | Uint8Array)[] = [];
      const other: unknown[] = [];
      const off = bus.subscribe(topic, (m) => got.push(m));
      bus.subscribe(topic, (m) => got.push(m));
      bus.subscribe(`${topic}-other`, (m) => other.push(m));
      await waitFor(() => bus.isHealthy());
      await new Promise((r) => setTimeout(r, 100));
      await bus.publish(topic, 'héllo');
      await bus.publish(topic, new Uint8Array([0, 116, 255]));
      await waitFor(() => got.length === 4);
      expect(got.filter((m) => typeof m === 'string')).toEqual(['héllo', 'héllo']);
      for (const m of got.filter((m) => typeof m !== 'string')) expect([...m]).toEqual([0, 116, 255]);
      off();
      await bus.publish(topic, 'after');
      await waitFor(() => got.length === 5);
      await new Promise((r) => setTimeout(r, 50));
      expect(got).toHaveLength(5);
      expect(other).toEqual([]);
    });

    test('a throwing subscriber does not keep the message from the others', async () => {
      const bus = make();
      closing.push(bus);
      const topic = `t-${crypto.randomUUID()}`;
      const got: unknown[] = [];
      bus.subscribe(topic, () => {
        throw new Error('subscriber bug');
      });
      bus.subscribe(topic, (m) => got.push(m));
      await waitFor(() => bus.isHealthy());
      await new Promise((r) => setTimeout(r, 100));
      await bus.publish(topic, 'x');
      await waitFor(() => got.includes('x'));
    });
  });
}

/** A TCP proxy to Redis that can be cut and opened again on the same port; `delayMs` slows commands. */
function redisProxy(delayMs = 0) {
  const target = new URL(redisUrl!);
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  const open = (port: number) =>
    new Promise<number>((resolve) => {
      server = net.createServer((client) => {
        const upstream = net.connect(Number(target.port || 6379), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => undefined);
          s.on('close', () => sockets.delete(s));
        }
        if (delayMs === 0) client.pipe(upstream);
        else
          client.on('data', (chunk: Buffer) => setTimeout(() => upstream.writable && upstream.write(chunk), delayMs));
        upstream.pipe(client);
      });
      server.listen(port, '127.0.0.1', () => resolve((server!.address() as net.AddressInfo).port));
    });
  const cut = () => {
    for (const s of sockets) s.destroy();
    return new Promise((r) => server!.close(r));
  };
  return { open, cut };
}

contract('memory', createMemoryBus);
if (redisUrl || process.env.CI === 'true') contract('Redis', () => createRedisBus({ redisUrl: redisUrl!, log }));

describe.runIf(redisUrl !== undefined || process.env.CI === 'true')('Redis bus and an outage', () => {
  test('topics subscribed before Redis was reachable, and across an outage, receive once it is back', async () => {
    const { open, cut } = redisProxy();
    const port = await open(0);
    await cut();
    // Redis is unreachable when the bus starts and when the topic is subscribed.
    const bus = createRedisBus({ redisUrl: `redis://127.0.0.1:${port}`, log });
    const direct = createRedisBus({ redisUrl: redisUrl!, log });
    closing.push(bus, direct);
    const topic = `t-${crypto.randomUUID()}`;
    const got: unknown[] = [];
    bus.subscribe(topic, (m) => got.push(m));
    await new Promise((r) => setTimeout(r, 300));
    expect(bus.isHealthy()).toBe(false);
    await open(port);
    await waitFor(() => bus.isHealthy(), 10_000, 'the bus to reconnect');
    await waitFor(() => direct.isHealthy());
    await new Promise((r) => setTimeout(r, 100));
    await direct.publish(topic, 'first');
    await waitFor(() => got.includes('first'));
    // An outage, and back.
    await cut();
    await waitFor(() => !bus.isHealthy());
    await open(port);
    await waitFor(() => bus.isHealthy(), 10_000, 'the bus to reconnect again');
    await new Promise((r) => setTimeout(r, 100));
    await direct.publish(topic, 'second');
    await waitFor(() => got.includes('second'));
    await cut();
  });
});

describe('Redis bus without Redis', () => {
  test('an unreachable Redis makes publish fail fast and isHealthy false; nothing throws elsewhere', async () => {
    const bus = createRedisBus({ redisUrl: 'redis://127.0.0.1:1', log });
    const off = bus.subscribe('t', () => undefined);
    const started = Date.now();
    await expect(bus.publish('t', 'x')).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(bus.isHealthy()).toBe(false);
    off();
    await bus.close();
  });
});

describe.runIf(redisUrl !== undefined || process.env.CI === 'true')(
  'Redis bus back from an outage on a slow link',
  () => {
    test('isHealthy turns true only once its topics are subscribed again: a message published at once arrives', async () => {
      // Commands reach Redis 300 ms late (a slow link): the SUBSCRIBE sent on reconnecting lands well
      // after ioredis reports 'ready', which is the window a health check must not cover.
      const { open, cut } = redisProxy(300);
      const port = await open(0);
      const bus = createRedisBus({ redisUrl: `redis://127.0.0.1:${port}`, log });
      const direct = createRedisBus({ redisUrl: redisUrl!, log });
      closing.push(bus, direct);
      const topics = Array.from({ length: 5 }, () => `t-${crypto.randomUUID()}`);
      const got: string[] = [];
      for (const topic of topics) bus.subscribe(topic, (m) => got.push(`${topic}:${String(m)}`));
      await waitFor(() => bus.isHealthy() && direct.isHealthy(), 10_000, 'both buses to be healthy');
      await cut();
      await waitFor(() => !bus.isHealthy(), 5000, 'the outage to be seen');
      await open(port);
      await waitFor(() => bus.isHealthy(), 15_000, 'the bus to be healthy again');
      // No grace period: healthy means subscribed.
      for (const topic of topics) await direct.publish(topic, 'at-once');
      await waitFor(() => got.length === topics.length, 5000, 'every message published at once');
      expect(got.sort()).toEqual(topics.map((t) => `${t}:at-once`).sort());
      await cut();
    });
  },
);
