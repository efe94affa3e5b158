/**
 * Where channels meet: the channels joined to each topic on this instance, fan-out of broadcasts
 * and presence diffs to them, and the same traffic to and from the other instances over the bus.
 *
 * A topic key is the channel's topic prefixed by its kind: a private channel "room" and a public
 * channel "room" are different topics, as on Supabase. Every message is delivered here directly
 * and published once on the bus; the other instances deliver what they read from it, and each
 * instance ignores its own messages there. Presence: see presence.ts; each instance publishes its
 * diffs with a sequence number, a heartbeat with the last one, and its full state when asked; an
 * instance that misses a number (Redis went away, it just started) asks for the full state, and an
 * instance not heard from for three heartbeats is forgotten, so its presences leave.
 */
import crypto from 'node:crypto';
import type { Bus } from '../platform/bus/index.js';
import type { Logger } from '../platform/logger.js';
import { encodeBroadcast, encodeFrame, outFrame, type OutFrame, type UserBroadcast, type Vsn } from './codec.js';
import { describeTopic, type LiveChannel, type MemberView } from './live.js';
import type { RealtimeMetrics } from './metrics.js';
import { isEmptyDiff, PresenceTracker, type Meta, type OriginState, type PresenceDiff } from './presence.js';
import { parseJson, stringifyJson } from '../platform/json.js';
import { activeTraceparent, inSyncSpan } from '../platform/tracing.js';

/** A joined channel, as the hub sees it. */
export interface Member {
  readonly vsn: Vsn;
  /** The Phoenix topic, `realtime:<name>`. */
  readonly topic: string;
  readonly receivesBroadcast: boolean;
  readonly receivesPresence: boolean;
  /** The join's settings, for Studio's live view (live.ts). */
  describe?(): MemberView;
  /** Writes an encoded frame to the member's socket (which may refuse it: a slow consumer). */
  send(frame: OutFrame): void;
}

export const topicKey = (subTopic: string, isPrivate: boolean) => `${isPrivate ? 'private' : 'public'}:${subTopic}`;
const phoenixTopicOf = (key: string) => `realtime:${key.slice(key.indexOf(':') + 1)}`;

type Envelope =
  // tp: the sending message's traceparent, when its trace is recorded (the fan-out spans join it).
  | { k: 'b'; o: string; ts: number; t: string; e: string; j?: string; x?: string; m?: string; tp?: string }
  | { k: 'p'; o: string; s: number; t: string; d: PresenceDiff }
  | { k: 'ps'; o: string; s: number; st: OriginState }
  | { k: 'pq'; o: string; to?: string }
  | { k: 'hb'; o: string; s: number }
  | { k: 'bye'; o: string };

export interface HubOptions {
  readonly bus: Bus;
  /** Whether other instances can exist (REDIS_URL is set); otherwise nothing is published. */
  readonly clustered: boolean;
  /** Names the cluster on a Redis several projects may share. */
  readonly clusterId: string;
  readonly log: Logger;
  readonly metrics: RealtimeMetrics;
  readonly heartbeatMs?: number;
}

export class RealtimeHub {
  readonly instanceId = crypto.randomBytes(8).toString('base64url');
  readonly presence = new PresenceTracker();
  readonly #members = new Map<string, Set<Member>>();
  readonly #busTopic: string;
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout | undefined;
  /** Other instances: the last sequence number and when they were last heard from. */
  readonly #peers = new Map<string, { seq: number | undefined; seenAt: number }>();
  #seq = 0;
  #busWasHealthy: boolean;
  #busWasEverHealthy: boolean;
  #closed = false;

  constructor(private readonly options: HubOptions) {
    this.#busTopic = `trellis:realtime:${options.clusterId}`;
    this.#busWasHealthy = options.bus.isHealthy();
    this.#busWasEverHealthy = this.#busWasHealthy;
    if (!options.clustered) {
      this.#unsubscribe = () => undefined;
      return;
    }
    this.#unsubscribe = options.bus.subscribe(this.#busTopic, (message) => this.#receive(message));
    const heartbeatMs = options.heartbeatMs ?? 5000;
    this.#timer = setInterval(() => this.#beat(heartbeatMs), heartbeatMs);
    this.#timer.unref();
    // Redis is usually connected within moments of the start: exchange presence then, not a heartbeat later.
    for (const delay of [200, 1000]) setTimeout(() => this.#closed || this.#beat(heartbeatMs), delay).unref();
    this.#publish({ k: 'pq', o: this.instanceId });
  }

  join(key: string, member: Member): void {
    let members = this.#members.get(key);
    if (!members) this.#members.set(key, (members = new Set()));
    members.add(member);
  }

  leave(key: string, member: Member): void {
    const members = this.#members.get(key);
    if (!members) return;
    members.delete(member);
    if (members.size === 0) this.#members.delete(key);
  }

  /** Delivers a broadcast here (not back to `sender` unless `toSender`) and to the other instances. */
  broadcast(
    key: string,
    broadcast: UserBroadcast,
    sender?: Member,
    toSender = false,
    startedAt = performance.now(),
  ): void {
    this.#fanOut(key, broadcast, toSender ? undefined : sender, undefined);
    this.options.metrics.latency.observe((performance.now() - startedAt) / 1000);
    if (!this.options.clustered) return;
    const { event, json, binary, meta } = broadcast;
    const tp = activeTraceparent();
    this.#publish({
      k: 'b',
      o: this.instanceId,
      ts: Date.now(),
      t: key,
      e: event,
      ...(json !== undefined && { j: json }),
      ...(binary !== undefined && { x: Buffer.from(binary).toString('base64') }),
      ...(meta !== undefined && { m: meta }),
      ...(tp !== undefined && { tp }),
    });
  }

  /** Delivers a broadcast to this instance's channels only (each instance reads realtime.send itself). */
  deliverLocally(key: string, broadcast: UserBroadcast): void {
    this.#fanOut(key, broadcast, undefined, undefined);
  }

  track(key: string, presenceKey: string, meta: Meta, previousRef?: string): void {
    this.#presenceChanged(key, this.presence.track(key, this.instanceId, presenceKey, meta, previousRef));
  }

  untrack(key: string, ref: string): void {
    this.#presenceChanged(key, this.presence.untrack(key, ref));
  }

  /** The channels joined on this instance, topic by topic (Studio's live view). */
  channels(): LiveChannel[] {
    const out: LiveChannel[] = [];
    for (const [key, members] of this.#members) {
      const views = [...members].flatMap((m) => (m.describe ? [m.describe()] : []));
      out.push(describeTopic(key, views, this.presence.state(key)));
    }
    return out.sort((a, b) => a.topic.localeCompare(b.topic) || Number(a.private) - Number(b.private));
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.options.clustered) this.#publish({ k: 'bye', o: this.instanceId });
    this.#unsubscribe();
  }

  #presenceChanged(key: string, diff: PresenceDiff): void {
    if (isEmptyDiff(diff)) return;
    this.#deliverPresence(key, diff);
    if (this.options.clustered) this.#publish({ k: 'p', o: this.instanceId, s: ++this.#seq, t: key, d: diff });
  }

  #fanOut(key: string, broadcast: UserBroadcast, except: Member | undefined, traceparent: string | undefined): void {
    inSyncSpan(
      'realtime.fanout',
      traceparent,
      () => this.#deliverBroadcast(key, broadcast, except),
      (recipients) => ({
        'messaging.destination.name': phoenixTopicOf(key),
        'messaging.message.type': broadcast.event,
        'trellis.realtime.recipients': recipients,
      }),
    );
  }

  /** Sends a broadcast to this instance's members of `key`; how many it reached. */
  #deliverBroadcast(key: string, broadcast: UserBroadcast, except: Member | undefined): number {
    const members = this.#members.get(key);
    if (!members) return 0;
    // Encoded once per serializer version, not once per socket.
    const frames: Partial<Record<Vsn, OutFrame | null>> = {};
    let sent = 0;
    for (const member of members) {
      if (member === except || !member.receivesBroadcast) continue;
      let frame = frames[member.vsn];
      if (frame === undefined) {
        const encoded = encodeBroadcast(member.vsn, member.topic, broadcast);
        frame = frames[member.vsn] = encoded === undefined ? null : outFrame(encoded);
      }
      if (frame === null) continue;
      member.send(frame);
      sent += 1;
    }
    this.options.metrics.countOut(sent);
    return sent;
  }

  #deliverPresence(key: string, diff: PresenceDiff): void {
    const members = this.#members.get(key);
    if (!members) return;
    const topic = phoenixTopicOf(key);
    const frames: Partial<Record<Vsn, OutFrame>> = {};
    for (const member of members) {
      if (!member.receivesPresence) continue;
      member.send((frames[member.vsn] ??= outFrame(encodeFrame(member.vsn, null, null, topic, 'presence_diff', diff))));
    }
  }

  #publish(envelope: Envelope): void {
    this.options.bus.publish(this.#busTopic, stringifyJson(envelope)).catch(() => {
      if (envelope.k === 'b') this.options.metrics.dropped.inc({ reason: 'bus_unavailable' });
    });
  }

  #receive(message: Uint8Array | string): void {
    let envelope: Envelope;
    try {
      envelope = parseJson(typeof message === 'string' ? message : Buffer.from(message).toString('utf8')) as Envelope;
    } catch {
      return;
    }
    if (envelope.o === this.instanceId) return;
    switch (envelope.k) {
      case 'b': {
        const broadcast: UserBroadcast = {
          event: envelope.e,
          ...(envelope.j !== undefined && { json: envelope.j }),
          ...(envelope.x !== undefined && { binary: new Uint8Array(Buffer.from(envelope.x, 'base64')) }),
          ...(envelope.m !== undefined && { meta: envelope.m }),
        };
        this.#fanOut(envelope.t, broadcast, undefined, envelope.tp);
        this.options.metrics.latency.observe(Math.max(0, Date.now() - envelope.ts) / 1000);
        return;
      }
      case 'p': {
        const peer = this.#heard(envelope.o);
        if (peer.seq === undefined || envelope.s !== peer.seq + 1)
          this.#publish({ k: 'pq', o: this.instanceId, to: envelope.o });
        peer.seq = envelope.s;
        const diff = this.presence.applyDiff(envelope.t, envelope.o, envelope.d);
        if (!isEmptyDiff(diff)) this.#deliverPresence(envelope.t, diff);
        return;
      }
      case 'ps': {
        this.#heard(envelope.o).seq = envelope.s;
        for (const [key, diff] of this.presence.replaceOrigin(envelope.o, envelope.st))
          this.#deliverPresence(key, diff);
        return;
      }
      case 'pq':
        this.#heard(envelope.o);
        if (envelope.to === undefined || envelope.to === this.instanceId) this.#publishState();
        return;
      case 'hb': {
        const peer = this.#heard(envelope.o);
        if (peer.seq !== envelope.s) this.#publish({ k: 'pq', o: this.instanceId, to: envelope.o });
        return;
      }
      case 'bye':
        this.#forget(envelope.o);
        return;
    }
  }

  #heard(origin: string): { seq: number | undefined; seenAt: number } {
    let peer = this.#peers.get(origin);
    if (!peer) this.#peers.set(origin, (peer = { seq: undefined, seenAt: 0 }));
    peer.seenAt = Date.now();
    return peer;
  }

  #forget(origin: string): void {
    this.#peers.delete(origin);
    for (const [key, diff] of this.presence.dropOrigin(origin)) this.#deliverPresence(key, diff);
  }

  #publishState(): void {
    this.#publish({ k: 'ps', o: this.instanceId, s: this.#seq, st: this.presence.stateOf(this.instanceId) });
  }

  #beat(heartbeatMs: number): void {
    const healthy = this.options.bus.isHealthy();
    if (healthy && !this.#busWasHealthy) {
      // Back after an outage (or first connected, a moment after the start: no news then):
      // what was published meanwhile is lost both ways.
      if (this.#busWasEverHealthy) this.options.log.info('realtime: bus reachable again, exchanging presence state');
      this.#publishState();
      this.#publish({ k: 'pq', o: this.instanceId });
    }
    this.#busWasHealthy = healthy;
    this.#busWasEverHealthy ||= healthy;
    this.#publish({ k: 'hb', o: this.instanceId, s: this.#seq });
    const deadline = Date.now() - 3 * heartbeatMs;
    for (const [origin, peer] of this.#peers) if (peer.seenAt < deadline) this.#forget(origin);
  }
}
