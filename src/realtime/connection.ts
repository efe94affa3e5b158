/**
 * One realtime socket: decodes frames, answers heartbeats, applies the per-socket and per-instance
 * limits, routes each frame to its channel, and writes frames out with a bound on what may wait
 * unsent. Anything a client sends that cannot be understood gets a `phx_reply` error when it names
 * a topic and a ref, or closes this socket with a WebSocket close code; never more than this socket.
 */
import type { WebSocket } from 'ws';
import { limitKey } from '../platform/api-limits.js';
import { Channel, type ChannelSocket } from './channel.js';
import { decodeFrame, encodeFrame, outFrame, type Frame, type OutFrame, type Vsn } from './codec.js';
import type { ConnectionContext } from './context.js';
import { ConnectionRate } from './limits.js';
import { inRootSpan } from '../platform/tracing.js';

const TRACED_EVENTS = new Set(['phx_join', 'broadcast', 'presence', 'access_token', 'phx_leave']);

/** WebSocket close codes (RFC 6455 §7.4.1). */
export const CLOSE = { goingAway: 1001, invalidData: 1007, policy: 1008, tooBig: 1009 } as const;

// One settled promise every socket starts its queue of frames from (a promise each is 48 bytes).
const SETTLED: Promise<void> = Promise.resolve();

export class Connection implements ChannelSocket {
  readonly channels = new Map<string, Channel>();
  lastSeen = Date.now();
  #closed = false;
  readonly #rate: ConnectionRate;
  // Frames waiting for the shared budget's answer, so that they are handled in the order sent.
  #inOrder: Promise<void> = SETTLED;

  constructor(
    private readonly ws: WebSocket,
    readonly vsn: Vsn,
    readonly apikey: string,
    private readonly ctx: ConnectionContext,
    /** The client's address, whose budget messages spend until a channel names a user. */
    private readonly address: string | undefined = undefined,
  ) {
    this.#rate = new ConnectionRate(ctx.limits.maxEventsPerSecond, Date.now());
    ws.on('message', (data: Buffer, isBinary: boolean) => this.#onMessage(data, isBinary));
    ws.on('close', () => this.#onClose());
    ws.on('error', () => this.#onClose());
  }

  get closed(): boolean {
    return this.#closed;
  }

  send(frame: OutFrame): void {
    if (this.#closed) return;
    // A client that does not read what it is sent would have us buffer without bound.
    if (this.ws.bufferedAmount > this.ctx.limits.maxBufferedBytes) {
      this.ctx.metrics.dropped.inc({ reason: 'slow_consumer' });
      this.ctx.log.info({ buffered: this.ws.bufferedAmount }, 'realtime: disconnecting a slow consumer');
      this.ws.terminate();
      this.#onClose();
      return;
    }
    this.ws.send(frame.data, { binary: frame.binary });
  }

  forget(channel: Channel): void {
    if (this.channels.get(channel.topic) === channel) {
      this.channels.delete(channel.topic);
      this.ctx.metrics.channels.dec();
    }
  }

  /** Closes with a code; the 'close' event cleans up. */
  close(code: number, reason: string): void {
    if (this.#closed) return;
    this.ws.close(code, reason.slice(0, 120));
    this.#onClose();
  }

  #onClose(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const channel of [...this.channels.values()]) channel.close();
    this.ctx.metrics.connections.dec();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#closed) return;
    const startedAt = performance.now();
    this.lastSeen = Date.now();
    this.ctx.metrics.countIn(1);
    const decoded = decodeFrame(this.vsn, isBinary ? data : data.toString('utf8'));
    if (!decoded.ok) {
      this.ctx.metrics.dropped.inc({ reason: 'bad_frame' });
      return this.close(CLOSE.invalidData, `invalid frame: ${decoded.reason}`);
    }
    const frame = decoded.frame;
    const heartbeat = frame.topic === 'phoenix' && frame.event === 'heartbeat';
    const now = Date.now();
    // Heartbeats count too (a flood of them is a flood), but one refused is dropped without a word.
    const verdict = this.#rate.check(now);
    if (verdict === 'disconnect') {
      this.ctx.metrics.dropped.inc({ reason: 'rate_limit' });
      return this.close(CLOSE.policy, 'Too many messages per second');
    }
    if (verdict === 'refused') {
      this.ctx.metrics.dropped.inc({ reason: 'rate_limit' });
      return heartbeat
        ? undefined
        : this.#reply(frame, 'error', { reason: 'ClientRateLimitReached: Too many messages per second' });
    }
    if (heartbeat) return this.#reply(frame, 'ok', {});
    const budget = this.ctx.budget;
    if (budget === undefined) {
      if (!this.ctx.tenantRate.take(now)) return this.#refuse(frame, 'tenant');
      return this.#dispatch(frame, startedAt);
    }
    // Shared counters answer asynchronously; the chain keeps this socket's frames in their order.
    const key = this.#budgetKey(frame.topic);
    this.#inOrder = this.#inOrder.then(async () => {
      const verdict = await budget.take(key);
      if (this.#closed) return;
      if (verdict !== 'ok') return this.#refuse(frame, verdict);
      this.#dispatch(frame, startedAt);
    });
  }

  /** A channel's user (`sub` of its token) when it names one, else the socket's address; service_role: none. */
  #budgetKey(topic: string): string | undefined {
    return limitKey(this.channels.get(topic)?.claims, this.address);
  }

  #refuse(frame: Frame, verdict: 'tenant' | 'client'): void {
    if (verdict === 'tenant') {
      this.ctx.metrics.dropped.inc({ reason: 'tenant_rate_limit' });
      return this.#reply(frame, 'error', { reason: 'TenantRateLimitReached: Too many messages per second' });
    }
    this.ctx.metrics.dropped.inc({ reason: 'client_rate_limit' });
    this.ctx.countRateLimited();
    this.#reply(frame, 'error', { reason: 'ClientRateLimitReached: Too many messages' });
  }

  #dispatch(frame: Frame, startedAt: number): void {
    // A span per message when tracing is on, named by event (a client's own event names stay out of it).
    const describe = () =>
      [
        `realtime ${TRACED_EVENTS.has(frame.event) ? frame.event : 'message'}`,
        { 'messaging.destination.name': frame.topic.slice(0, 200) },
      ] as const;
    if (frame.event === 'phx_join') return void inRootSpan(describe, () => this.#join(frame));
    const channel = this.channels.get(frame.topic);
    if (!channel || channel.state !== 'joined' || (frame.joinRef !== null && frame.joinRef !== channel.joinRef)) {
      return this.#reply(frame, 'error', { reason: 'unmatched topic' });
    }
    inRootSpan(describe, () => channel.handle(frame, startedAt)).catch((err: unknown) => {
      this.ctx.log.error({ err, topic: frame.topic, event: frame.event }, 'realtime: handling a message failed');
      this.#push(frame.topic, channel.joinRef, 'phx_error', {});
      channel.close();
    });
  }

  async #join(frame: Frame): Promise<void> {
    if (!frame.topic.startsWith('realtime:')) return this.#reply(frame, 'error', { reason: 'unmatched topic' });
    if (frame.topic === 'realtime:')
      return this.#reply(frame, 'error', { reason: 'TopicNameRequired: You must provide a topic name' });
    // A second join of a topic replaces the first, as in Phoenix: the old one is closed.
    const existing = this.channels.get(frame.topic);
    if (existing) {
      this.#push(existing.topic, existing.joinRef, 'phx_close', {}, existing.joinRef);
      existing.close();
    }
    if (this.channels.size >= this.ctx.limits.maxChannelsPerClient) {
      return this.#reply(frame, 'error', { reason: 'ChannelRateLimitReached: Too many channels' });
    }
    const channel = new Channel(this, this.ctx, frame.topic, frame.joinRef ?? frame.ref);
    this.channels.set(frame.topic, channel);
    this.ctx.metrics.channels.inc();
    let result;
    try {
      result = await channel.join(frame.payload);
    } catch (err) {
      this.ctx.log.error({ err, topic: frame.topic }, 'realtime: a join failed');
      result = { ok: false as const, reason: 'UnknownErrorOnChannel: Unknown Error on Channel' };
    }
    if (this.#closed || channel.state === 'closed') return;
    if (!result.ok) {
      channel.close();
      return this.#reply(frame, 'error', { reason: result.reason });
    }
    this.#reply(frame, 'ok', result.response);
    channel.afterJoin();
  }

  #reply(frame: Frame, status: 'ok' | 'error', response: Record<string, unknown>): void {
    if (frame.ref === null) return;
    this.send(
      outFrame(encodeFrame(this.vsn, frame.joinRef, frame.ref, frame.topic, 'phx_reply', { status, response })),
    );
  }

  #push(topic: string, joinRef: string | null, event: string, payload: unknown, ref: string | null = null): void {
    this.send(outFrame(encodeFrame(this.vsn, joinRef, ref, topic, event, payload)));
  }
}
