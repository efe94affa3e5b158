/** Starts Trellis in this process on a fresh database, for end-to-end tests through supabase-js. */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import pg from 'pg';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/platform/logger.js';
import { startTrellis } from '../../src/server.js';
import { freePort, tempProject } from './cli.js';
import { freshDatabase } from './db.js';

export interface TestServer {
  readonly url: string;
  readonly anonKey: string;
  readonly serviceRoleKey: string;
  readonly jwtSecret: string;
  readonly dir: string;
  /** A superuser connection to the server's database, for assertions. */
  readonly sql: pg.Pool;
  /** The database's URL, for a second instance on the same database (`databaseUrl` option). */
  readonly databaseUrl: string;
  /** Stops the server process and starts it again on the same folder, database and port. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestServer(
  options: {
    env?: Record<string, string>;
    migrations?: Record<string, string>;
    templates?: Record<string, string>;
    /** More project files, by path relative to the project folder (`supabase/config.toml`, `supabase/seed.sql`). */
    files?: Record<string, string>;
    /** Run on this (another test server's) database instead of a fresh one; it is not dropped at stop. */
    databaseUrl?: string;
    /** The server's logger instead of one at TEST_LOG_LEVEL (a test that reads the log). */
    log?: Logger;
    /** Listen on this port instead of a free one (a proxy in front, made before the server). */
    port?: number;
  } = {},
): Promise<TestServer> {
  const database =
    options.databaseUrl === undefined
      ? await freshDatabase()
      : { url: options.databaseUrl, drop: async () => undefined };
  const dir = await tempProject(options.migrations ?? {});
  // Email template overrides, in place before the server reads them (supabase/templates/<kind>.html).
  if (options.templates) {
    await fs.mkdir(path.join(dir, 'supabase', 'templates'), { recursive: true });
    for (const [name, body] of Object.entries(options.templates))
      await fs.writeFile(path.join(dir, 'supabase', 'templates', name), body);
  }
  for (const [name, body] of Object.entries(options.files ?? {})) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), body);
  }
  const port = options.port ?? (await freePort());
  const config = loadConfig(
    { dir, port: String(port) },
    {
      DATABASE_URL: database.url,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      JWT_SECRET: 'test-secret-with-at-least-32-characters!',
      // Flows in tests mail one address several times a second, all from 127.0.0.1; the interval
      // and the per-address and per-client budgets have their own tests.
      AUTH_EMAIL_MAX_FREQUENCY: '0',
      AUTH_RATE_LIMIT_EMAIL_PER_ADDRESS: '1000',
      AUTH_RATE_LIMIT_EMAIL_PER_IP: '1000',
      ...options.env,
    },
  );
  const log = options.log ?? createLogger({ level: config.logLevel, pretty: false });
  let trellis = await startTrellis(config, log);
  const sql = new pg.Pool({ connectionString: database.url, max: 2 });
  // An idle connection cut while the database stops (57P01 at teardown) is not a test failure.
  sql.on('error', () => undefined);
  return {
    url: trellis.apiUrl,
    anonKey: trellis.keys.anonKey,
    serviceRoleKey: trellis.keys.serviceRoleKey,
    jwtSecret: trellis.keys.jwtSecret,
    dir,
    sql,
    databaseUrl: database.url,
    async restart() {
      await trellis.stop();
      trellis = await startTrellis(config, log);
    },
    async stop() {
      await sql.end();
      await trellis.stop();
      await database.drop();
      await fs.rm(path.join(dir), { recursive: true, force: true });
    },
  };
}

/** A supabase-js client for the test server. Node 20 has no global WebSocket: realtime gets `ws`. */
export function supabaseClient(server: TestServer, key = server.anonKey): SupabaseClient {
  return createClient(server.url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket as unknown as never },
  });
}
