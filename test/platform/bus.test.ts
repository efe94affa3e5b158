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
      for (const m of got.filter((m) => typeof m !== 'string')) expect([...(m as Uint8Array)]).toEqual([0, 116, 255]);
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

contract('memory', createMemoryBus);
if (redisUrl || process.env.CI === 'true') contract('Redis', () => createRedisBus({ redisUrl: redisUrl!, log }));

describe.runIf(redisUrl !== undefined || process.env.CI === 'true')('Redis bus and an outage', () => {
  test('topics subscribed before Redis was reachable, and across an outage, receive once it is back', async () => {
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
          client.pipe(upstream).pipe(client);
        });
        server.listen(port, '127.0.0.1', () => resolve((server!.address() as net.AddressInfo).port));
      });
    const cut = () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server!.close(r));
    };
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
