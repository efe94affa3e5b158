/**
 * One joined channel of one socket: the join (token, private-topic policies, postgres_changes),
 * then broadcast, presence and access_token refresh, until it leaves or is shut down. Refusals and
 * shutdown messages follow Supabase Realtime (realtime_channel.ex): a refused join is a `phx_reply`
 * error with `{reason}`; a channel shut while open gets a `system` message, then `phx_close`.
 */
import crypto from 'node:crypto';
import type { Revoked } from '../platform/sessions.js';
import type { JwtClaims } from '../platform/tokens.js';
import type { ChangeData, ChangeSubscriber, ChangeSubscriptionRequest } from './changes/contract.js';
import { checkToken, PUBLIC_TOPIC, readDenied, topicPolicies, type TopicPolicies } from './authorize.js';
import { broadcastSize, encodeFrame, outFrame, userBroadcastOf, type Frame, type OutFrame, type Vsn } from './codec.js';
import { topicKey, type Member } from './hub.js';
import type { MemberView } from './live.js';
import type { Meta } from './presence.js';
import type { ConnectionContext } from './context.js';
import { isJsonObject, stringifyJson } from '../platform/json.js';

type Claims = JwtClaims & { role: string; exp: number };
export type JoinResult =
  { readonly ok: true; readonly response: Record<string, unknown> } | { readonly ok: false; readonly reason: string };

/** What a channel needs from its socket. */
export interface ChannelSocket {
  readonly vsn: Vsn;
  /** The apikey the socket connected with: the token of a join that brings none. */
  readonly apikey: string;
  send(frame: OutFrame): void;
  /** The channel has ended (left or shut down): the socket forgets it. */
  forget(channel: Channel): void;
}

// setTimeout takes at most 2^31-1 ms; an expiry further away is re-checked after this long.
const MAX_EXPIRY_TIMER_MS = 60 * 60 * 1000;
const EVENTS = new Set(['INSERT', 'UPDATE', 'DELETE', '*']);
let nextSubscriptionId = 1;

// A kept number (platform/json.ts) is an object in JavaScript but no JSON object.
const isRecord = isJsonObject;

export class Channel implements Member {
  readonly subTopic: string;
  state: 'joining' | 'joined' | 'closed' = 'joining';
  #key = '';
  #private = false;
  #self = false;
  #ack = false;
  #presenceKey = '';
  #presenceEnabled = false;
  #presenceRef: string | undefined;
  #policies: TopicPolicies = PUBLIC_TOPIC;
  #token = '';
  #claims: Claims | undefined;
  #changes: (ChangeSubscriber & { unsubscribe?: () => void }) | undefined;
  #expiryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: ChannelSocket,
    private readonly ctx: ConnectionContext,
    readonly topic: string,
    readonly joinRef: string | null,
  ) {
    this.subTopic = topic.slice('realtime:'.length);
  }

  get vsn(): Vsn {
    return this.socket.vsn;
  }
  /** The joined caller's claims (the join's token, or a later access_token), for rate limits. */
  get claims(): Claims | undefined {
    return this.#claims;
  }
  get receivesBroadcast(): boolean {
    return this.state === 'joined' && this.#policies.broadcastRead;
  }
  get receivesPresence(): boolean {
    return this.state === 'joined' && this.#presenceEnabled && this.#policies.presenceRead;
  }

  send(frame: OutFrame): void {
    this.socket.send(frame);
  }

  describe(): MemberView {
    return {
      broadcast: { self: this.#self, ack: this.#ack },
      presenceEnabled: this.#presenceEnabled,
      postgresChanges: (this.#changes?.subscriptions ?? []).map(({ event, schema, table, filter }) => ({
        event,
        schema,
        ...(table !== undefined && { table }),
        ...(filter !== undefined && { filter }),
      })),
    };
  }

  /** Runs the join; the socket sends the reply, then calls `afterJoin` on success. */
  async join(payload: Readonly<Record<string, unknown>>): Promise<JoinResult> {
    const config = isRecord(payload.config) ? payload.config : {};
    const broadcast = isRecord(config.broadcast) ? config.broadcast : {};
    const presence = isRecord(config.presence) ? config.presence : {};
    this.#private = config.private === true;
    this.#self = broadcast.self === true;
    this.#ack = broadcast.ack === true;
    // Older clients send no `enabled`: presence is on for them, as on Supabase.
    this.#presenceEnabled = presence.enabled !== false;
    // A key of our own is made at the first track: most channels never track, and a fresh UUID
    // string is a tree of some twenty pieces until read (about 700 bytes a socket).
    this.#presenceKey = typeof presence.key === 'string' ? presence.key : '';
    this.#key = topicKey(this.subTopic, this.#private);

    // A private topic is looked up in PostgreSQL, whose text refuses NUL: refused for every topic alike.
    if (this.subTopic.includes('\u0000'))
      return { ok: false, reason: 'InvalidJoinPayload: the topic must not contain the NUL character (\\u0000)' };
    const requests = parseChangeRequests(config.postgres_changes);
    if (typeof requests === 'string') return { ok: false, reason: requests };
    const given =
      typeof payload.access_token === 'string'
        ? payload.access_token
        : typeof payload.user_token === 'string'
          ? payload.user_token
          : undefined;
    // New-style publishable keys (sb_...) stand for the apikey, as on Supabase.
    this.#token = given === undefined || given.startsWith('sb_') ? this.socket.apikey : given;
    const check = await checkToken(this.ctx.tokens, this.#token);
    if (!check.ok) return { ok: false, reason: check.reason };
    this.#claims = check.claims;

    if (this.#private) {
      try {
        this.#policies = await topicPolicies(this.ctx.db, check.claims, this.subTopic);
      } catch (err) {
        this.ctx.log.warn({ err, topic: this.subTopic }, "realtime: checking a private channel's policies failed");
        return { ok: false, reason: readDenied(this.subTopic) };
      }
      if (!this.#policies.broadcastRead && !this.#policies.presenceRead)
        return { ok: false, reason: readDenied(this.subTopic) };
    }

    let reply: Record<string, unknown>[] = [];
    if (requests.length > 0) {
      const subscriptions = requests.map((r) => ({ ...r.request, id: nextSubscriptionId++ }));
      const subscriber: ChangeSubscriber & { unsubscribe?: () => void } = {
        claims: check.claims,
        subscriptions,
        deliver: (ids, data) => this.#deliverChange(ids, data),
      };
      const result = await this.ctx.changes.subscribe(subscriber);
      if (!result.ok) return { ok: false, reason: result.message };
      subscriber.unsubscribe = result.unsubscribe;
      this.#changes = subscriber;
      reply = requests.map((r, i) => ({ ...r.echo, id: subscriptions[i]!.id }));
    }
    if (this.state === 'closed') {
      // The socket closed or the channel left while the join waited on the database.
      this.#changes?.unsubscribe?.();
      return { ok: false, reason: 'channel closed during join' };
    }
    this.state = 'joined';
    this.ctx.hub.join(this.#key, this);
    this.#scheduleExpiry();
    return { ok: true, response: { postgres_changes: reply } };
  }

  /** After the join reply: the presence state and, with postgres_changes, Supabase's "subscribed" notice. */
  afterJoin(): void {
    if (this.receivesPresence) this.#sendPresenceState();
    if (this.#changes)
      this.#push('system', {
        extension: 'postgres_changes',
        status: 'ok',
        message: 'Subscribed to PostgreSQL',
        channel: this.subTopic,
      });
  }

  /** A frame for this channel, after the socket's checks (joined, rate, size of the frame). */
  async handle(frame: Frame, startedAt: number): Promise<void> {
    switch (frame.event) {
      case 'broadcast':
        return this.#broadcast(frame, startedAt);
      case 'presence':
        return this.#presence(frame);
      case 'access_token':
        return this.#refreshToken(frame.payload.access_token);
      case 'phx_leave':
        this.#reply(frame.ref, 'ok', {});
        this.#push('phx_close', {}, this.joinRef);
        this.close();
        return;
      default:
        this.#reply(frame.ref, 'error', { reason: `unknown event "${frame.event.slice(0, 64)}"` });
    }
  }

  /** Ends the channel: no more deliveries, presences leave, change subscriptions stop. Idempotent. */
  close(): void {
    if (this.state === 'closed') return;
    const wasJoined = this.state === 'joined';
    this.state = 'closed';
    clearTimeout(this.#expiryTimer);
    if (wasJoined) {
      this.ctx.hub.leave(this.#key, this);
      if (this.#presenceRef !== undefined) this.ctx.hub.untrack(this.#key, this.#presenceRef);
      this.#changes?.unsubscribe?.();
    }
    this.socket.forget(this);
  }

  /** Supabase's shutdown_response: a system error naming why, then phx_close. */
  /** Sessions were revoked (AUTH_SESSION_CHECK_SECONDS): a channel joined with one of them closes. */
  async sessionsRevoked(revoked: Revoked): Promise<void> {
    const session = this.#claims?.session_id;
    if (this.state !== 'joined' || typeof session !== 'string') return;
    if (revoked !== 'all' && !revoked.has(session)) return;
    const check = await checkToken(this.ctx.tokens, this.#token);
    if (!check.ok) this.shutdown(check.reason.slice(check.reason.indexOf(': ') + 2));
  }

  shutdown(message: string): void {
    if (this.state === 'closed') return;
    this.#push('system', { extension: 'system', status: 'error', message, channel: this.subTopic });
    this.#push('phx_close', {}, this.joinRef);
    this.close();
  }

  #broadcast(frame: Frame, startedAt: number): void {
    const broadcast = userBroadcastOf(frame);
    if (!broadcast) return this.#reply(frame.ref, 'error', { reason: 'a broadcast needs a string "event"' });
    if (broadcastSize(broadcast) > this.ctx.limits.maxPayloadBytes) {
      this.ctx.metrics.dropped.inc({ reason: 'payload_too_large' });
      return this.#reply(frame.ref, 'error', {
        reason: `Payload too large: the limit is ${this.ctx.limits.maxPayloadBytes} bytes`,
      });
    }
    if (!this.#policies.broadcastWrite) {
      return this.#reply(frame.ref, 'error', {
        reason: `Unauthorized: You do not have permissions to write to this Channel topic: ${this.subTopic}`,
      });
    }
    this.ctx.hub.broadcast(this.#key, broadcast, this, this.#self, startedAt);
    if (this.#ack) this.#reply(frame.ref, 'ok', {});
  }

  #presence(frame: Frame): void {
    const { event, payload } = frame.payload;
    if (event === 'untrack') {
      if (this.#presenceRef !== undefined) this.ctx.hub.untrack(this.#key, this.#presenceRef);
      this.#presenceRef = undefined;
      return this.#reply(frame.ref, 'ok', {});
    }
    if (event !== 'track')
      return this.#reply(frame.ref, 'error', { reason: 'presence event must be "track" or "untrack"' });
    if (!isRecord(payload)) return this.#reply(frame.ref, 'error', { reason: 'Presence track payload must be a map' });
    if (Buffer.byteLength(stringifyJson(payload)) > this.ctx.limits.maxPayloadBytes) {
      this.ctx.metrics.dropped.inc({ reason: 'payload_too_large' });
      return this.#reply(frame.ref, 'error', { reason: 'Track message size exceeded' });
    }
    if (!this.#policies.presenceWrite) {
      return this.#reply(frame.ref, 'error', {
        reason: `Unauthorized: You do not have permissions to track presence on this Channel topic: ${this.subTopic}`,
      });
    }
    const previous = this.#presenceRef;
    const ref = crypto.randomBytes(9).toString('base64url');
    const { phx_ref: _ignored, phx_ref_prev: _ignoredPrev, ...fields } = payload;
    const meta: Meta = { ...fields, phx_ref: ref, ...(previous !== undefined && { phx_ref_prev: previous }) };
    this.#reply(frame.ref, 'ok', {});
    // A track can be what turns presence on for a channel that joined without it: it gets the state first.
    const enabling = !this.#presenceEnabled;
    this.#presenceEnabled = true;
    if (enabling && this.receivesPresence) this.#sendPresenceState();
    this.#presenceRef = ref;
    this.#presenceKey ||= crypto.randomUUID();
    this.ctx.hub.track(this.#key, this.#presenceKey, meta, previous);
  }

  async #refreshToken(token: unknown): Promise<void> {
    if (typeof token !== 'string' || token === this.#token || token.startsWith('sb_')) return;
    this.#token = token;
    const check = await checkToken(this.ctx.tokens, token);
    if (this.state !== 'joined' || token !== this.#token) return;
    if (!check.ok) return this.shutdown(check.reason.slice(check.reason.indexOf(': ') + 2));
    if (this.#private) {
      const before = this.#policies;
      let after: TopicPolicies;
      try {
        after = await topicPolicies(this.ctx.db, check.claims, this.subTopic);
      } catch {
        return this.shutdown('Realtime was unable to connect to the project database');
      }
      if (this.state !== 'joined' || token !== this.#token) return;
      if ((before.broadcastRead && !after.broadcastRead) || (before.presenceRead && !after.presenceRead)) {
        return this.shutdown(`You no longer have permission to read from this Channel topic: ${this.subTopic}`);
      }
      this.#policies = after;
    }
    this.#claims = check.claims;
    if (this.#changes) this.#changes.claims = check.claims;
    this.#scheduleExpiry();
  }

  #scheduleExpiry(): void {
    clearTimeout(this.#expiryTimer);
    const exp = this.#claims?.exp;
    if (exp === undefined) return;
    const wait = exp * 1000 - Date.now();
    this.#expiryTimer = setTimeout(
      () => {
        if (Date.now() >= exp * 1000)
          this.shutdown(`Token has expired ${Math.floor(Date.now() / 1000 - exp)} seconds ago`);
        else this.#scheduleExpiry();
      },
      Math.max(0, Math.min(wait, MAX_EXPIRY_TIMER_MS)),
    );
    this.#expiryTimer.unref();
  }

  #sendPresenceState(): void {
    this.#push('presence_state', this.ctx.hub.presence.state(this.#key));
  }

  #deliverChange(ids: readonly number[], data: ChangeData): void {
    if (this.state !== 'joined') return;
    this.#push('postgres_changes', { ids, data });
    this.ctx.metrics.countOut(1);
  }

  #push(event: string, payload: unknown, ref: string | null = null): void {
    this.socket.send(outFrame(encodeFrame(this.vsn, this.joinRef, ref, this.topic, event, payload)));
  }

  #reply(ref: string | null, status: 'ok' | 'error', response: Record<string, unknown>): void {
    if (ref === null) return;
    this.socket.send(outFrame(encodeFrame(this.vsn, this.joinRef, ref, this.topic, 'phx_reply', { status, response })));
  }
}

/** The join's `config.postgres_changes`, checked for shape (the change hub checks tables and filters). */
function parseChangeRequests(
  value: unknown,
): { request: ChangeSubscriptionRequest; echo: Record<string, unknown> }[] | string {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return 'InvalidJoinPayload: config.postgres_changes must be a list';
  const out: { request: ChangeSubscriptionRequest; echo: Record<string, unknown> }[] = [];
  for (const item of value) {
    if (item === null) continue;
    if (!isRecord(item)) return 'InvalidJoinPayload: each postgres_changes entry must be an object';
    const { event, schema, table, filter } = item;
    if (typeof event !== 'string' || !EVENTS.has(event.toUpperCase()))
      return 'InvalidJoinPayload: postgres_changes event must be INSERT, UPDATE, DELETE or *';
    if (typeof schema !== 'string' || schema === '') return 'InvalidJoinPayload: postgres_changes needs a schema';
    if (table !== undefined && typeof table !== 'string')
      return 'InvalidJoinPayload: postgres_changes table must be a string';
    if (filter !== undefined && typeof filter !== 'string')
      return 'InvalidJoinPayload: postgres_changes filter must be a string';
    // Schema, table and filter values reach PostgreSQL as text, which refuses NUL.
    if ([schema, table, filter].some((s) => s?.includes('\u0000')))
      return 'InvalidJoinPayload: postgres_changes must not contain the NUL character (\\u0000)';
    out.push({
      request: {
        event: event.toUpperCase() as ChangeSubscriptionRequest['event'],
        schema,
        ...(table !== undefined && { table }),
        ...(filter !== undefined && { filter }),
      },
      echo: item,
    });
  }
  return out;
}
