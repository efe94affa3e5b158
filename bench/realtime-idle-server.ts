/**
 * A child process for the idle-memory figure of bench/realtime.ts: Trellis's realtime server (the
 * same createRealtime as `trellis start`, no database needed for public channels) or the raw `ws`
 * floor, run with --expose-gc so heap is measured after collection, not sampled between collections.
 */
import http from 'node:http';
import { WebSocketServer } from 'ws';
import { loadConfig } from '../src/config.js';
import type { Db } from '../src/db/index.js';
import { createMemoryBus } from '../src/platform/bus/memory.js';
import { createLogger } from '../src/platform/logger.js';
import { createMetrics } from '../src/platform/metrics.js';
import { createTokens } from '../src/platform/tokens.js';
import { signApiKeys } from '../src/project/secrets.js';
import { createRealtime } from '../src/realtime/index.js';

const SECRET = 'bench-secret-with-at-least-32-characters';
const keys = await signApiKeys(SECRET);
const server = http.createServer();
if (process.argv[2] === 'trellis') {
  // Public channels never touch the database; LISTEN and the cleanup are stubbed.
  const db = { listen: () => undefined, query: async () => ({ rows: [] }) } as unknown as Db;
  const realtime = createRealtime({
    config: loadConfig({}, { JWT_SECRET: SECRET, REALTIME_MAX_CONNECTIONS: '1000000' }),
    db,
    tokens: createTokens(SECRET),
    log: createLogger({ level: 'silent', pretty: false }),
    metrics: createMetrics(() => undefined),
    bus: createMemoryBus(),
    // Idle public channels ask nothing of postgres_changes.
    changes: {
      subscribe: async () => ({ ok: false, message: 'not in this benchmark' }),
      problem: () => undefined,
      close: async () => undefined,
    },
    clusterId: 'bench',
  });
  server.on('upgrade', (request, socket, head) => realtime.handleUpgrade(request, socket, head));
} else {
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (ws) =>
    ws.on('message', (data: Buffer) => {
      const [joinRef, ref, topic] = JSON.parse(data.toString('utf8')) as [string, string, string];
      ws.send(JSON.stringify([joinRef, ref, topic, 'phx_reply', { status: 'ok', response: {} }]));
    }),
  );
}
server.listen(0, '127.0.0.1', () =>
  process.send?.({ port: (server.address() as { port: number }).port, apikey: keys.anonKey }),
);
process.on('message', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  process.send?.({ heap: process.memoryUsage().heapUsed });
});
