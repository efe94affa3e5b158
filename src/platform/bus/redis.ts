/**
 * The bus over Redis pub/sub, for a cluster. Two connections (a subscribed connection can only
 * subscribe). Redis going away must not crash anything or hold up a publisher: publishes fail fast
 * while disconnected (the caller's local delivery goes on), and ioredis reconnects for as long as
 * the process lives and re-subscribes every topic when it is back.
 */
import { newRedis } from '../redis.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import { deliver, type Bus, type BusListener } from './bus.js';

// Redis keeps no type: a one-byte tag says whether a message was published as text or as bytes.
const TEXT = 0x74; // 't'
const BYTES = 0x62; // 'b'

export function createRedisBus(options: { redisUrl: string; log: Logger }): Bus {
  const { log } = options;
  const common = {
    connectTimeout: 5000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 6), 5000),
  };
  // A publish while Redis is away fails at once instead of queueing for the whole outage.
  const publisher = newRedis(options.redisUrl, { ...common, enableOfflineQueue: false, commandTimeout: 1000 });
  // The subscriber subscribes to every topic each time it is (re)connected, so a topic subscribed
  // while Redis was away (or before it was first reached) is never lost; ioredis's own resubscribe
  // only knows the subscriptions that once succeeded.
  const subscriber = newRedis(options.redisUrl, { ...common, enableOfflineQueue: false, autoResubscribe: false });
  const topics = new Map<string, Set<BusListener>>();
  // Healthy only once every topic is subscribed again: a message published between the reconnect
  // and the SUBSCRIBE's answer would be lost while /ready already said all is well.
  let resubscribed = false;
  subscriber.on('ready', () => {
    resubscribed = false;
    const again = topics.size > 0 ? subscriber.subscribe(...topics.keys()) : Promise.resolve();
    again.then(
      () => {
        resubscribed = subscriber.status === 'ready';
        onReady();
      },
      (err: unknown) => onError(err),
    );
  });
  subscriber.on('close', () => {
    resubscribed = false;
  });
  let closing = false;
  let down = false;
  const healthy = () => publisher.status === 'ready' && subscriber.status === 'ready' && resubscribed;

  const onError = (err: unknown) => {
    if (closing || down) return;
    down = true;
    log.warn(
      { err: errorMessage(err) },
      'Redis is unreachable: realtime messages reach this instance only until it returns',
    );
  };
  const onReady = () => {
    if (down && healthy()) {
      down = false;
      log.info('Redis is reachable again: realtime messages reach every instance again');
    }
  };
  // Without 'error' listeners ioredis reports every failed reconnect attempt on stderr.
  for (const client of [publisher, subscriber]) client.on('error', onError);
  publisher.on('ready', onReady);

  subscriber.on('messageBuffer', (channel: Buffer, raw: Buffer) => {
    const listeners = topics.get(channel.toString());
    if (!listeners || raw.length === 0) return;
    const message =
      raw[0] === BYTES ? new Uint8Array(raw.buffer, raw.byteOffset + 1, raw.length - 1) : raw.toString('utf8', 1);
    for (const listener of [...listeners]) deliver(listener, message, log);
  });

  return {
    shared: true,
    async publish(topic, message) {
      const tagged =
        typeof message === 'string'
          ? Buffer.concat([Buffer.of(TEXT), Buffer.from(message, 'utf8')])
          : Buffer.concat([Buffer.of(BYTES), message]);
      await publisher.publish(topic, tagged);
    },
    subscribe(topic, onMessage) {
      let listeners = topics.get(topic);
      if (!listeners) {
        topics.set(topic, (listeners = new Set()));
        if (subscriber.status === 'ready') subscriber.subscribe(topic).catch((err: unknown) => onError(err));
      }
      const listener: BusListener = (m) => onMessage(m);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size > 0 || topics.get(topic) !== listeners) return;
        topics.delete(topic);
        if (!closing && subscriber.status === 'ready') subscriber.unsubscribe(topic).catch(() => undefined);
      };
    },
    isHealthy: healthy,
    async close() {
      closing = true;
      topics.clear();
      await Promise.all(
        [publisher, subscriber].map(async (client) => {
          if (client.status !== 'ready') return client.disconnect();
          await client.quit().catch(() => client.disconnect());
        }),
      );
    },
  };
}
