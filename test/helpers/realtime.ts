/** Helpers for realtime tests: subscribing through realtime-js, waiting, and a raw Phoenix socket. */
import { REALTIME_SUBSCRIBE_STATES, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

/** Subscribes and resolves once SUBSCRIBED; rejects with the server's reason otherwise. */
export function subscribed(channel: RealtimeChannel, timeoutMs = 10_000): Promise<RealtimeChannel> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('subscribe timed out')), timeoutMs);
    channel.subscribe((status, err) => {
      if (status === REALTIME_SUBSCRIBE_STATES.SUBSCRIBED) {
        clearTimeout(timer);
        resolve(channel);
      } else if (status === REALTIME_SUBSCRIBE_STATES.CHANNEL_ERROR || status === REALTIME_SUBSCRIBE_STATES.TIMED_OUT) {
        clearTimeout(timer);
        reject(err ?? new Error(status));
      }
    });
  });
}

export async function waitFor<T>(
  probe: () => T | undefined | false,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Closes every realtime connection a client opened. */
export async function closeRealtime(...clients: SupabaseClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.removeAllChannels().catch(() => undefined)));
  for (const c of clients) void c.realtime.disconnect();
}

export type RawFrame = [string | null, string | null, string, string, Record<string, unknown>];

/** A bare socket speaking serializer 2.0.0 (arrays) or 1.0.0 (objects), for protocol-level tests. */
export class RawSocket {
  readonly frames: (RawFrame | Buffer)[] = [];
  /** Every text frame as it arrived, for tests that must see the bytes (numbers a parse would round). */
  readonly texts: string[] = [];
  closeCode: number | undefined;
  closeReason = '';
  #ref = 0;

  private constructor(
    readonly ws: WebSocket,
    readonly vsn: '1.0.0' | '2.0.0',
  ) {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) return void this.frames.push(data);
      this.texts.push(data.toString());
      const parsed = JSON.parse(data.toString()) as
        | RawFrame
        | {
            join_ref: string | null;
            ref: string | null;
            topic: string;
            event: string;
            payload: Record<string, unknown>;
          };
      this.frames.push(
        Array.isArray(parsed) ? parsed : [parsed.join_ref, parsed.ref, parsed.topic, parsed.event, parsed.payload],
      );
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
    });
  }

  static async open(baseUrl: string, apikey: string | undefined, vsn: '1.0.0' | '2.0.0' = '2.0.0'): Promise<RawSocket> {
    const url = new URL('/realtime/v1/websocket', baseUrl.replace(/^http/, 'ws'));
    if (apikey !== undefined) url.searchParams.set('apikey', apikey);
    url.searchParams.set('vsn', vsn);
    const ws = new WebSocket(url);
    const socket = new RawSocket(ws, vsn);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    });
    return socket;
  }

  nextRef(): string {
    return String(++this.#ref);
  }

  send(joinRef: string | null, ref: string | null, topic: string, event: string, payload: unknown): void {
    this.ws.send(
      this.vsn === '2.0.0'
        ? JSON.stringify([joinRef, ref, topic, event, payload])
        : JSON.stringify({ join_ref: joinRef, ref, topic, event, payload }),
    );
  }

  /** Sends a push and waits for its phx_reply. */
  async push(
    joinRef: string | null,
    topic: string,
    event: string,
    payload: unknown,
  ): Promise<{ status: string; response: Record<string, unknown> }> {
    const ref = this.nextRef();
    this.send(joinRef, ref, topic, event, payload);
    const reply = await this.waitFrame((f) => f[1] === ref && f[3] === 'phx_reply');
    return reply[4] as { status: string; response: Record<string, unknown> };
  }

  /** Joins `topic` (`realtime:` added) and returns the join ref and the reply. */
  async join(topic: string, payload: Record<string, unknown> = { config: {} }) {
    const joinRef = this.nextRef();
    this.send(joinRef, joinRef, `realtime:${topic}`, 'phx_join', payload);
    const reply = await this.waitFrame((f) => f[1] === joinRef && f[3] === 'phx_reply');
    return { joinRef, reply: reply[4] as { status: string; response: Record<string, unknown> } };
  }

  waitFrame(match: (f: RawFrame) => boolean, timeoutMs = 5000): Promise<RawFrame> {
    return waitFor(() => this.frames.find((f): f is RawFrame => Array.isArray(f) && match(f)), timeoutMs, 'a frame');
  }

  waitClose(timeoutMs = 5000): Promise<number> {
    return waitFor(() => this.closeCode, timeoutMs, 'close');
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Polls an asynchronous `probe` every 50 ms until it answers a value; fails after `timeoutMs`. */
export async function waitForValue<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
