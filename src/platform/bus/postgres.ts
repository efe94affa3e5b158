/**
 * The bus over PostgreSQL LISTEN/NOTIFY: the workers of one box (`--workers N`), or instances
 * sharing a server, without Redis. One connection per process both LISTENs and NOTIFYs, so its
 * messages reach PostgreSQL in the order they were published; every process, this one included,
 * reads them back from the server (as with Redis), which keeps one order for everyone.
 *
 * Publishes waiting while one is under way go out together, one statement and one transaction
 * (NOTIFY is transactional: a statement per message would be a commit per message). The session
 * runs with synchronous_commit off: a notification is delivered at commit either way, and the bus
 * is at most once, so waiting for the WAL flush would only add latency.
 *
 * While the connection is down, publishes fail at once (the caller's local delivery goes on) and
 * the bus reconnects with backoff; isHealthy() is true only while it is connected and LISTENing.
 * It needs a session of its own: behind PgBouncer in transaction mode, LISTEN does not work (use Redis).
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import { addListener, deliver, type Bus, type BusListener } from './bus.js';
import { decodePart, encodeMessage, Reassembly } from './postgres-wire.js';

/** The one channel of the bus: topics travel in the payload, so a subscribe never waits for a LISTEN. */
export const BUS_CHANNEL = 'trellis_bus';
const NOTIFY_ALL = `select pg_notify('${BUS_CHANNEL}', p) from unnest($1::text[]) as p`;

export interface PostgresBusOptions {
  readonly url: string;
  readonly log: Logger;
  readonly connectTimeoutMs?: number;
  /** Name of the connection in pg_stat_activity. */
  readonly applicationName?: string;
}

interface Pending {
  readonly payloads: string[];
  resolve(): void;
  reject(err: unknown): void;
}

export function createPostgresBus(options: PostgresBusOptions): Bus {
  const { log } = options;
  const origin = crypto.randomBytes(6).toString('base64url');
  const topics = new Map<string, Set<BusListener>>();
  const reassembly = new Reassembly();
  let seq = 0;
  let client: pg.Client | undefined;
  let listening = false;
  let closing = false;
  let down = false;
  let attempt = 0;
  let retry: NodeJS.Timeout | undefined;
  let queue: Pending[] = [];
  let sending = false;

  const onNotification = (n: pg.Notification) => {
    if (n.channel !== BUS_CHANNEL || n.payload === undefined) return;
    const part = decodePart(n.payload);
    if (!part || !topics.has(part.topic)) return;
    const whole = reassembly.add(part);
    if (!whole) return;
    const listeners = topics.get(whole.topic);
    if (listeners) for (const listener of [...listeners]) deliver(listener, whole.message, log);
  };

  const lost = (next: pg.Client, err: unknown) => {
    if (client === next) {
      client = undefined;
      listening = false;
      // Parts of a message cut off by the outage would never complete.
      reassembly.clear();
      // A server that just dropped us (restarting, or terminating backends) gets a beat before the retry.
      attempt = Math.max(attempt, 1);
      if (!closing && !down) {
        down = true;
        log.warn(
          { err: errorMessage(err) },
          'realtime bus: PostgreSQL connection lost; messages reach this process only until it is back',
        );
      }
    }
    next.removeAllListeners('notification');
    next.end().catch(() => undefined);
    scheduleConnect();
  };

  const scheduleConnect = () => {
    if (closing || retry) return;
    const delay = attempt === 0 ? 0 : Math.min(100 * 2 ** Math.min(attempt, 6), 5000);
    attempt++;
    retry = setTimeout(() => {
      retry = undefined;
      void connect();
    }, delay);
    retry.unref();
  };

  const connect = async () => {
    if (closing) return;
    const next = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      application_name: options.applicationName ?? 'trellis-bus',
    });
    next.on('error', (err) => lost(next, err));
    next.on('end', () => lost(next, new Error('connection ended')));
    next.on('notification', onNotification);
    try {
      await next.connect();
      await next.query('set synchronous_commit = off');
      await next.query(`listen ${BUS_CHANNEL}`);
    } catch (err) {
      if (client === undefined && !closing) {
        if (!down) log.warn({ err: errorMessage(err) }, 'realtime bus: cannot reach PostgreSQL; retrying');
        down = true;
      }
      next.removeAllListeners('end');
      next.removeAllListeners('error');
      next.on('error', () => undefined);
      await next.end().catch(() => undefined);
      scheduleConnect();
      return;
    }
    if (closing) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    listening = true;
    attempt = 0;
    if (down) {
      down = false;
      log.info('realtime bus: PostgreSQL reachable again');
    }
    void flush();
  };

  const flush = async () => {
    if (sending || queue.length === 0) return;
    const target = client;
    if (!target || !listening) {
      const failed = queue;
      queue = [];
      for (const p of failed) p.reject(new Error('realtime bus: PostgreSQL is unreachable'));
      return;
    }
    sending = true;
    const batch = queue;
    queue = [];
    try {
      await target.query(NOTIFY_ALL, [batch.flatMap((p) => p.payloads)]);
      for (const p of batch) p.resolve();
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      sending = false;
    }
    void flush();
  };

  scheduleConnect();

  return {
    shared: true,
    async publish(topic, message) {
      if (closing) throw new Error('realtime bus: closed');
      // Fails fast while disconnected, as the Redis bus does: a publisher must not queue for an outage.
      if (!client || !listening) throw new Error('realtime bus: PostgreSQL is unreachable');
      const payloads = encodeMessage(origin, ++seq, topic, message);
      await new Promise<void>((resolve, reject) => {
        queue.push({ payloads, resolve, reject });
        void flush();
      });
    },
    subscribe: (topic, onMessage) => addListener(topics, topic, onMessage),
    isHealthy: () => client !== undefined && listening,
    async close() {
      closing = true;
      clearTimeout(retry);
      topics.clear();
      // What was accepted goes out before the connection closes (flush sends what queued meanwhile).
      while (sending) await new Promise((r) => setTimeout(r, 5));
      await flush();
      const last = client;
      client = undefined;
      listening = false;
      if (last) {
        last.removeAllListeners('end');
        last.removeAllListeners('error');
        last.on('error', () => undefined);
        await last.end().catch(() => undefined);
      }
    },
  };
}
