/**
 * The realtime module's door: Phoenix channels at /realtime/v1/websocket (broadcast, presence,
 * postgres_changes from the WAL) and the broadcast HTTP API, built from the services.
 */
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Hono } from 'hono';
import type { LiveChannel } from './live.js';
import { apiRateLimit } from '../platform/api-limits.js';
import type { KeyEnv } from '../platform/keys.js';
import type { Services } from '../services.js';
import { createChangeHub } from './changes/index.js';
import { realtimeRoutes } from './routes.js';
import { createRealtime, realtimeClusterId } from './socket.js';

// The parts benchmarks drive on their own: the change feed (with either authorisation mode) and
// the socket server (idle memory, without a database).
export { createChangeHub, type ChangeHubOptions } from './changes/index.js';
export type { AuthorisationMode } from './changes/authorise.js';
export { createRealtime } from './socket.js';

export type { LiveChannel } from './live.js';

export interface RealtimeLiveView {
  /**
   * 'instance': other instances share this one's bus (REDIS_URL, --workers), and their sockets
   * are not counted; 'all': this instance is the only one. Presence counts are the cluster's in
   * both: every instance holds every presence entry.
   */
  readonly scope: 'instance' | 'all';
  readonly channels: readonly LiveChannel[];
}

export interface RealtimeModule {
  /** /realtime/v1 over HTTP (the broadcast API). */
  readonly routes: Hono<KeyEnv>;
  /** For the HTTP server's 'upgrade' event. */
  handleUpgrade(request: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** What /ready should mention while realtime works only in part. */
  degraded(): string[];
  /** The channels open on this instance now (Studio's live view, live.ts). */
  live(): RealtimeLiveView;
  /** Closes the sockets with going-away, then the change feed. */
  close(): Promise<void>;
}

/**
 * `replicationUrl`: where the WAL is read, the server login (it needs REPLICATION; the embedded
 * cluster's superuser has it); changes are authorised on the request login (`services.db`).
 */
export async function realtimeModule(services: Services, replicationUrl: string): Promise<RealtimeModule> {
  const { config, db, log, metrics, bus, tokens } = services;
  const changes = await createChangeHub({
    db,
    replicationUrl,
    bus,
    log,
    metrics,
    replicationTimeoutMs: config.realtime.replicationTimeoutMs,
  });
  try {
    const realtime = createRealtime({
      config,
      db,
      tokens,
      log,
      metrics,
      bus,
      limiter: services.limiter,
      changes,
      clusterId: await realtimeClusterId(db),
    });
    return {
      routes: realtimeRoutes(realtime, apiRateLimit(services, 'realtime')),
      handleUpgrade: (request, socket, head) => realtime.handleUpgrade(request, socket, head),
      live: () => ({ scope: bus.shared ? 'instance' : 'all', channels: realtime.channels() }),
      degraded: () => {
        const problem = changes.problem();
        return [realtime.degraded(), problem && `postgres_changes: ${problem}`].filter(
          (d): d is string => typeof d === 'string',
        );
      },
      async close() {
        await realtime.close();
        // The change feed before the bus it publishes to and the database it reads.
        await changes.close();
      },
    };
  } catch (err) {
    await changes.close();
    throw err;
  }
}
