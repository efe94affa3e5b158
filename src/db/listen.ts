/** LISTEN on a connection of its own that reconnects: the one notification channel loop. */
import pg from 'pg';
import { ident } from './sql.js';

export interface ListenOptions {
  readonly url: string;
  readonly connectTimeoutMs: number;
  /** TCP keepalive: a LISTEN connection is idle for long stretches, when a vanished peer shows only this way. */
  readonly keepAliveInitialDelayMs: number;
  readonly onError: (err: Error) => void;
}

/** Calls `onNotify` with each payload on `channel`, and with '' after each (re)connect; returns the stop. */
export function listenForever(
  options: ListenOptions,
  channel: string,
  onNotify: (payload: string) => void,
): () => Promise<void> {
  let stopped = false;
  let client: pg.Client | undefined;
  let timer: NodeJS.Timeout | undefined;
  const connect = async () => {
    if (stopped) return;
    const next = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: options.connectTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: options.keepAliveInitialDelayMs,
      application_name: 'trellis-listen',
    });
    next.on('error', () => undefined);
    next.on('end', () => {
      if (!stopped) timer = setTimeout(() => void connect(), 1000);
    });
    next.on('notification', (n) => n.channel === channel && onNotify(n.payload ?? ''));
    try {
      await next.connect();
      // Bounded like the connect: a server that froze right after accepting must not hold the loop.
      await next.query({ text: `listen ${ident(channel)}`, query_timeout: options.connectTimeoutMs } as pg.QueryConfig);
      client = next;
      onNotify('');
    } catch (err) {
      options.onError(err instanceof Error ? err : new Error(String(err)));
      await next.end().catch(() => undefined);
    }
  };
  void connect();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await client?.end().catch(() => undefined);
  };
}
