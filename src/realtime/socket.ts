/**
 * The realtime server's entry: WebSocket upgrades at /realtime/v1/websocket (apikey and vsn in the
 * query string, as realtime-js sends them), the heartbeat sweep, broadcasts written by SQL
 * (realtime.send, rows inserted into realtime.messages) read through LISTEN, and shutdown.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { Bus } from '../platform/bus/index.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';
import type { Revoked } from '../platform/sessions.js';
import type { Tokens } from '../platform/tokens.js';
import type { Channel } from './channel.js';
import type { ChangeHub } from './changes/contract.js';
import { VSNS, type UserBroadcast, type Vsn } from './codec.js';
import { CLOSE, Connection } from './connection.js';
import type { ConnectionContext } from './context.js';
import { RealtimeHub, topicKey } from './hub.js';
import type { LiveChannel } from './live.js';
import { TokenBucket } from './limits.js';
import { createMessageBudget } from './budget.js';
import { familyRule } from '../platform/api-limits.js';
import { clientIp } from '../platform/client.js';
import { createRateLimiter, type RateLimiter } from '../platform/limiter/index.js';
import { createRealtimeMetrics } from './metrics.js';
import { parseJson, stringifyJson } from '../platform/json.js';

export const WEBSOCKET_PATH = '/realtime/v1/websocket';
const NOTIFY_CHANNEL = 'trellis_realtime';
// Supabase keeps realtime.messages for three days; so does Trellis.
const MESSAGE_RETENTION = '3 days';
const CLEANUP_EVERY_MS = 60 * 60 * 1000;
// Frames a little over the payload limit still arrive whole, so their sender gets a proper error
// reply; beyond this the socket is closed with 1009 before the frame is even buffered.
const FRAME_HEADROOM = 64 * 1024;

export interface RealtimeDeps {
  readonly config: Config;
  readonly db: Db;
  readonly tokens: Tokens;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly bus: Bus;
  /** Counts RATE_LIMIT_REALTIME and, with Redis, the cluster's messages per second (default: in memory). */
  readonly limiter?: RateLimiter;
  readonly changes: ChangeHub;
  /** Names the cluster on the bus: instances of one project share it, other projects do not. */
  readonly clusterId: string;
  /** Presence heartbeat between instances (tests shorten it). */
  readonly presenceHeartbeatMs?: number;
}

export interface Realtime {
  readonly ctx: ConnectionContext;
  /** For the HTTP server's 'upgrade' event; answers paths other than the socket's with 404. */
  handleUpgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** A broadcast from the server side (HTTP API), to every instance. */
  broadcast(subTopic: string, isPrivate: boolean, broadcast: UserBroadcast): void;
  /** What /ready should mention while realtime works but not fully (Redis away). */
  degraded(): string | undefined;
  /** The channels open on this instance (Studio's live view). */
  channels(): LiveChannel[];
  close(): Promise<void>;
}

/** The id every instance on this database shares (trellis.realtime_cluster), naming the bus channel. */
export async function realtimeClusterId(db: Db): Promise<string> {
  const { rows } = await db.query<{ id: string }>('select id from trellis.realtime_cluster limit 1');
  if (!rows[0]) throw new Error('trellis.realtime_cluster is empty');
  return rows[0].id;
}

export function createRealtime(deps: RealtimeDeps): Realtime {
  const { config, log } = deps;
  const limits = config.realtime;
  const metrics = createRealtimeMetrics(deps.metrics);
  const hub = new RealtimeHub({
    bus: deps.bus,
    clustered: deps.bus.shared,
    clusterId: deps.clusterId,
    log,
    metrics,
    ...(deps.presenceHeartbeatMs !== undefined && { heartbeatMs: deps.presenceHeartbeatMs }),
  });
  const tenantRate = new TokenBucket(limits.maxTenantEventsPerSecond, Date.now());
  const ctx: ConnectionContext = {
    limits,
    tokens: deps.tokens,
    db: deps.db,
    hub,
    changes: deps.changes,
    metrics,
    log,
    tenantRate,
    budget: createMessageBudget({
      limiter: deps.limiter ?? createRateLimiter({ redisUrl: undefined, log }),
      // With Redis the tenant budget is the cluster's, as on Supabase; one box counts in memory.
      tenant:
        config.redisUrl === undefined
          ? undefined
          : { name: 'realtime_tenant', points: limits.maxTenantEventsPerSecond, durationS: 1 },
      tenantKey: deps.clusterId,
      client: familyRule(config, 'realtime'),
      localTenant: tenantRate,
    }),
    countRateLimited: () => deps.metrics.countRateLimited('realtime'),
  };
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxPayloadBytes + FRAME_HEADROOM,
    perMessageDeflate: false,
  });
  const connections = new Set<Connection>();

  // One timer for all sockets. A socket is closed once silent for the timeout less one sweep period,
  // so none stays open longer than the timeout after its last message.
  const sweepEvery = Math.min(5000, Math.max(250, limits.heartbeatTimeoutMs / 4));
  const sweep = setInterval(() => {
    const deadline = Date.now() - (limits.heartbeatTimeoutMs - sweepEvery);
    for (const connection of connections)
      if (connection.lastSeen < deadline) connection.close(CLOSE.goingAway, 'heartbeat timeout');
  }, sweepEvery);
  sweep.unref();

  deps.db.listen(NOTIFY_CHANNEL, (payload) => {
    if (payload === '') return;
    void deliverStored(deps.db, hub, payload).catch((err: unknown) =>
      log.warn({ err }, 'realtime: reading a broadcast from realtime.messages failed'),
    );
  });
  const cleanup = setInterval(() => {
    deps.db
      .query(`delete from realtime.messages where inserted_at < now() - interval '${MESSAGE_RETENTION}'`)
      .catch(() => undefined);
  }, CLEANUP_EVERY_MS);
  cleanup.unref();
  // With the session check on, a channel joined with a now-revoked session closes within moments.
  // A check that fails (the database is away) is tried again: a revoked session's channel must not
  // stay open because the database blinked when the revocation came.
  const recheck = (channel: Channel, revoked: Revoked, attempt = 0): void => {
    channel.sessionsRevoked(revoked).catch((err: unknown) => {
      if (attempt >= 4)
        return log.warn({ err }, 'realtime: re-checking a revoked session failed; the channel stays open');
      setTimeout(() => recheck(channel, revoked, attempt + 1), 1000 * 2 ** attempt).unref();
    });
  };
  const stopRevocations = deps.tokens.onRevoked((revoked) => {
    for (const connection of connections) for (const channel of connection.channels.values()) recheck(channel, revoked);
  });

  // Outside handleUpgrade on purpose: a listener made in there would keep its scope, the upgrade
  // request with its headers and head buffer, alive as long as the socket (about 1.5 KB each).
  const keys = new Map<string, string>();
  const admit = (ws: WebSocket, vsn: Vsn, apikey: string, address: string | undefined) => {
    // Sockets of one key share one copy of it (the key is a slice of its request's URL otherwise).
    let key = keys.get(apikey);
    if (key === undefined) {
      if (keys.size >= 64) keys.clear();
      key = (' ' + apikey).slice(1);
      keys.set(key, key);
    }
    const connection = new Connection(ws, vsn, key, ctx, address);
    connections.add(connection);
    metrics.connections.inc();
    ws.on('close', () => connections.delete(connection));
  };

  return {
    ctx,
    handleUpgrade(request, socket, head) {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const path = url.pathname.replace(/\/+$/, '');
      if (path !== WEBSOCKET_PATH) return refuse(socket, 404, { message: 'no Route matched with those values' });
      const vsn = (url.searchParams.get('vsn') ?? '1.0.0') as Vsn;
      if (!VSNS.includes(vsn)) return refuse(socket, 400, { message: `vsn must be one of ${VSNS.join(', ')}` });
      if (connections.size >= limits.maxConnections) {
        metrics.dropped.inc({ reason: 'rate_limit' });
        return refuse(socket, 503, { message: 'ConnectionRateLimitReached: Too many connected users' });
      }
      const apikey = url.searchParams.get('apikey') ?? request.headers.apikey;
      if (typeof apikey !== 'string' || apikey === '')
        return refuse(socket, 401, { message: 'No API key found in request' });
      deps.tokens.verify(apikey).then(
        (claims) => {
          if (claims.role !== 'anon' && claims.role !== 'service_role')
            return refuse(socket, 401, { message: 'Invalid API key' });
          if (socket.destroyed) return;
          const address = clientIp(
            headerText(request.headers['x-forwarded-for']),
            () => request.socket.remoteAddress,
            config.trustProxy,
          );
          wss.handleUpgrade(request, socket, head, (ws) => admit(ws, vsn, apikey, address));
        },
        () => refuse(socket, 401, { message: 'Invalid API key' }),
      );
    },
    broadcast(subTopic, isPrivate, broadcast) {
      hub.broadcast(topicKey(subTopic, isPrivate), broadcast);
    },
    channels: () => hub.channels(),
    degraded() {
      if (!deps.bus.shared || deps.bus.isHealthy()) return undefined;
      const transport = config.redisUrl !== undefined && config.bus === 'auto' ? 'Redis' : 'the PostgreSQL bus';
      return `realtime: ${transport} is unreachable; messages reach only the sockets of the instance they were sent on`;
    },
    async close() {
      stopRevocations();
      clearInterval(sweep);
      clearInterval(cleanup);
      for (const connection of connections) connection.close(CLOSE.goingAway, 'server shutting down');
      await hub.close();
      // Sockets that do not answer the close handshake are cut after a moment.
      await new Promise((resolve) => setTimeout(resolve, connections.size > 0 ? 200 : 0));
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

const headerText = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(', ') : value;

function refuse(socket: Duplex, status: number, body: Record<string, unknown>): void {
  if (socket.destroyed) return;
  const text = JSON.stringify(body);
  const reason =
    { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 503: 'Service Unavailable' }[status] ?? 'Error';
  // Destroyed once written: an upgraded socket is outside the server's connection list, and a
  // client that never closes its side would otherwise hold it (and server.close()) forever.
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
  );
}

interface StoredMessage {
  id?: string;
  topic?: string;
  event?: string;
  private?: boolean;
  payload?: unknown;
}

/** A NOTIFY from the realtime.messages trigger: the message itself, or its id when it was too big. */
async function deliverStored(db: Db, hub: RealtimeHub, note: string): Promise<void> {
  // Numbers as written (platform/json.ts): realtime.send's payload is delivered as it was stored.
  let message = parseJson(note) as StoredMessage;
  if (message.topic === undefined && typeof message.id === 'string') {
    const { rows } = await db.query<StoredMessage>(
      'select topic, event, private, payload from realtime.messages where id = $1',
      [message.id],
    );
    if (!rows[0]) return;
    message = rows[0];
  }
  if (typeof message.topic !== 'string' || typeof message.event !== 'string') return;
  hub.deliverLocally(topicKey(message.topic, message.private === true), {
    event: message.event,
    json: stringifyJson(message.payload ?? {}),
  });
}
