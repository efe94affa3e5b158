/**
 * Builds the services once and serves them on one HTTP server. The port is taken first, answering
 * /health at once and /ready with 503 while the database starts and migrations run.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import type { Config } from './config.js';
import {
  isMigrated,
  migrate,
  openDatabase,
  prepareRequestRole,
  startPartitionMaintenance,
  type Db,
  type OpenDatabase,
  type PartitionMaintenance,
} from './db/index.js';
import { FatalError, StartAborted, errorMessage } from './errors.js';
import { authRoutes } from './auth/routes.js';
import { restRoutes } from './rest/routes.js';
import { storageRoutes } from './storage/routes.js';
import { studioModule, type StudioRuntime } from './studio/index.js';
import { ensureStudioPassword } from './project/studio-password.js';
import { functionsModule, type FunctionsModule } from './functions/index.js';
import { realtimeModule, type RealtimeModule } from './realtime/index.js';
import { startBackupService, type BackupService } from './backup/index.js';
import {
  startAppEmail,
  startCronScheduler,
  startJobs,
  startPush,
  startWebhooks,
  type CronScheduler,
  type JobRunner,
  type NetSender,
} from './jobs/index.js';
import { healthRoutes, type MetricsAccess, type Readiness } from './platform/health.js';
import { cors, renderError, renderNotFound, requestContext, type HttpEnv } from './platform/http.js';
import type { Logger } from './platform/logger.js';
import { startErrorReports, type ErrorReports } from './platform/error-reports.js';
import { startTracing, type Tracing } from './platform/tracing.js';
import { createMetrics, type Metrics } from './platform/metrics.js';
import { createTokens, type Tokens } from './platform/tokens.js';
import { loadKeySet } from './project/signing-keys.js';
import { loadOrCreateSecrets, signApiKeys, type ApiKeys } from './project/secrets.js';
import { lockDataDir, prepareDataDir, releaseDataDir, writeRuntimeState } from './project/state.js';
import { createServices, type OwnedServices, type Services } from './services.js';

export interface RunningTrellis {
  readonly apiUrl: string;
  readonly dbUrl: string;
  readonly keys: ApiKeys;
  /** The Studio dashboard's password when this start made it (the first), to be printed once. */
  readonly studioPassword?: string;
  /**
   * The start of a drain (SIGTERM): /ready answers 503 so that load balancers send no new work,
   * while every request is still served; responses ask clients to close their connection.
   */
  drain(): void;
  /** Stops accepting, lets in-flight requests finish, closes the database. */
  stop(): Promise<void>;
}

/**
 * This process is one worker of `trellis start --workers N` (cli/cluster.ts): the primary holds
 * the data folder, starts the database and applies migrations; the worker serves.
 */
export interface WorkerRole {
  /** The URL of the database the primary started and migrated (rejects when `abort` fires first). */
  databaseUrl(abort?: AbortSignal): Promise<string>;
  /** /ready's `backup` section, from the primary that runs the backups ({} when it does not answer). */
  backupStatus(): Promise<Readonly<Record<string, unknown>>>;
  /** The backup service's series from the primary, for /metrics ('' when it does not answer). */
  backupMetrics(): Promise<string>;
}

/** The full application: one mount per module. */
function buildApp(
  services: Services,
  readiness: Readiness,
  realtime: RealtimeModule,
  push: Hono<HttpEnv>,
  functions: FunctionsModule,
  localUrl: string,
  studio: StudioRuntime,
  moreMetrics?: () => Promise<string>,
): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.use('*', requestContext(services.log, services.metrics));
  app.use('*', cors);
  app.route(
    '/',
    healthRoutes(
      readiness,
      services.metrics,
      metricsAccess(services.config.metricsPublic, services.tokens),
      moreMetrics,
    ),
  );
  app.route('/auth/v1', authRoutes(services));
  app.route('/rest/v1', restRoutes(services));
  app.route('/storage/v1', storageRoutes(services));
  app.route('/realtime/v1', realtime.routes);
  app.route('/push/v1', push);
  app.route('/functions/v1', functions.routes);
  // Under the API's port unless STUDIO_PORT gives Studio one of its own (buildStudioApp).
  if (services.config.studio.enabled && services.config.studio.port === undefined)
    app.route('/', studioModule(services, localUrl, studio));
  app.notFound(renderNotFound);
  app.onError(renderError);
  return app;
}

/** Studio alone, for its own port (STUDIO_PORT): the same module, nothing of the API. */
function buildStudioApp(services: Services, localUrl: string, studio: StudioRuntime): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.use('*', requestContext(services.log, services.metrics));
  app.get('/', (c) => c.redirect('/studio/'));
  app.route('/', studioModule(services, localUrl, studio));
  app.notFound(renderNotFound);
  app.onError(renderError);
  return app;
}

/** This process's listener as seen from itself (Studio calls the auth and storage APIs through it). */
function localUrl(server: http.Server, config: Config): string {
  const port = (server.address() as AddressInfo).port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Answers while the database starts: alive, not ready, nothing else served yet. */
function startingApp(log: Logger, metrics: Metrics, access: MetricsAccess): Hono<HttpEnv> {
  const app = new Hono<HttpEnv>();
  app.use('*', requestContext(log, metrics));
  app.route('/', healthRoutes({ check: async () => 'starting' }, metrics, access));
  app.all('*', (c) => c.json({ message: 'Trellis is starting' }, 503, { 'retry-after': '1' }));
  app.onError(renderError);
  return app;
}

/** What a start has opened so far, closed in reverse by stopTrellis. */
interface Running {
  server?: http.Server;
  /** Studio's own listener (STUDIO_PORT). */
  studioServer?: http.Server;
  database?: OpenDatabase;
  owned?: OwnedServices;
  realtime?: RealtimeModule;
  backup?: BackupService;
  webhooks?: NetSender;
  draining?: boolean;
  /** A worker neither holds nor releases the data folder. */
  worker?: boolean;
  partitions?: PartitionMaintenance;
  cron?: CronScheduler;
  jobs?: JobRunner;
  functions?: FunctionsModule;
  tracing?: Tracing;
  errorReports?: ErrorReports;
}

/**
 * Starts Trellis. `abort` (SIGTERM/SIGINT during start) is checked between steps and between
 * migration files; an aborted start undoes what it did and throws StartAborted.
 */
export async function startTrellis(
  config: Config,
  log: Logger,
  abort?: AbortSignal,
  worker?: WorkerRole,
): Promise<RunningTrellis> {
  // A config.toml setting Trellis does not act on must not pass unnoticed (docs/configuration.md says why each).
  if (config.configFile && config.configFile.unapplied.length > 0)
    log.warn(
      { file: config.configFile.path, keys: config.configFile.unapplied },
      `config.toml settings Trellis does not apply (see docs/configuration.md): ${config.configFile.unapplied.join(', ')}`,
    );
  if (!worker) {
    await prepareDataDir(config.dir, config.dataDir);
    await lockDataDir(config.dataDir);
  }
  const running: Running = { worker: worker !== undefined };
  // LOG_LEVEL=debug tells where a slow start spends its time, step by step.
  let stepStarted = performance.now();
  const took = (step: string) => {
    const now = performance.now();
    log.debug({ ms: Math.round(now - stepStarted) }, `start: ${step}`);
    stepStarted = now;
  };
  const checkpoint = () => {
    if (abort?.aborted) throw new StartAborted(String(abort.reason));
  };
  try {
    // OpenTelemetry (docs/observability.md): the SDK loads only when a collector is configured.
    running.tracing = await startTracing(config.tracing, log);
    running.errorReports = await startErrorReports(config.errorReports, log);
    const secrets = await loadOrCreateSecrets(config.dataDir);
    // The dashboard password, made once (a worker's primary made it before forking). Hashing it
    // (scrypt, ~50 ms in the thread pool) overlaps the database's start; awaited before serving.
    const studioPasswordMade =
      config.studio.enabled && !worker ? ensureStudioPassword(config.dataDir) : Promise.resolve(undefined);
    // Its failure is the start's, seen at the await below (or moot when an earlier step fails).
    studioPasswordMade.catch(() => undefined);
    const keys = await signApiKeys(config.jwtSecret ?? secrets.jwtSecret);
    const keySet = await loadKeySet(config, keys.jwtSecret);
    if (keySet.signer.kid !== undefined)
      log.info({ kid: keySet.signer.kid, alg: keySet.signer.alg }, `access tokens are signed ${keySet.signer.alg}`);
    const metrics = createMetrics(() => running.database?.db.stats());
    // Each worker answers /metrics for itself: the label tells a scrape's series apart.
    if (worker) metrics.registry.setDefaultLabels({ worker: String(process.pid) });
    let app = startingApp(
      log,
      metrics,
      metricsAccess(config.metricsPublic, createTokens(keys.jwtSecret, undefined, keySet)),
    );
    // The env carries Node's IncomingMessage, which headerOf() reads headers from.
    const listener = getRequestListener((request, env) => app.fetch(request, env));
    // The listener answers its own failures (a 500, or the socket destroyed): its promise does not reject.
    const server = http.createServer((req, res) => {
      // A load balancer's pooled keep-alive connections would otherwise stay open to the last
      // moment of the drain, when closing them races a request sent on one.
      if (running.draining) res.setHeader('connection', 'close');
      void listener(req, res);
    });
    running.server = server;
    // WebSocket upgrades bypass Hono: realtime takes them once it exists; until then, 503.
    server.on('upgrade', (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      socket.on('error', () => undefined);
      if (running.realtime) running.realtime.handleUpgrade(request, socket, head);
      else {
        socket.once('finish', () => socket.destroy());
        socket.end(
          'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
        );
      }
    });
    await listen(server, config);
    took('listen');
    // Studio's own port, taken as early as the API's (a port in use fails the start here); it
    // answers as the API does while starting, then Studio alone.
    let studioApp: Hono<HttpEnv> | undefined;
    if (config.studio.enabled && config.studio.port !== undefined) {
      const studioListener = getRequestListener((request, env) => (studioApp ?? app).fetch(request, env));
      const studioServer = http.createServer((req, res) => void studioListener(req, res));
      running.studioServer = studioServer;
      await listen(studioServer, config, config.studio.port, 'STUDIO_PORT');
    }
    checkpoint();
    const database = await openDatabase(config, secrets, log, await worker?.databaseUrl(abort));
    running.database = database;
    took('database');
    checkpoint();
    if (!worker)
      await migrate(database.db, config.migrationsDir, {
        dryRun: false,
        onProgress: (m) => log.info(m),
        abort,
        seed: config.seed,
        buckets: config.storage.buckets,
      });
    checkpoint();
    took('migrations');
    const requestUrl = await prepareRequestRole(database.db, database.url, log);
    if (requestUrl) database.routeRequests(requestUrl);
    // Trellis's job runner (every instance; a job is taken by one) and the queue gauges of /metrics.
    running.jobs = await startJobs({ config, log, metrics, db: database.db }, database.url);
    took('request role, jobs');
    const owned = await createServices(
      { config, log, metrics, db: database.db, keys, jobs: running.jobs },
      keySet,
      database.url,
    );
    running.owned = owned;
    took('services');
    const realtime = await realtimeModule(owned.services, database.url);
    took('realtime');
    // WAL shipping and scheduled backups: the embedded cluster's (a server's backups are its engine's, docs/backups.md).
    // A worker's primary runs them, once for all workers.
    const backup =
      config.databaseUrl || worker
        ? undefined
        : await startBackupService({ config, log, registry: metrics.registry, dbUrl: database.url });
    running.backup = backup;
    took('backups');
    // net.http_* requests and database webhooks (docs/webhooks.md); every instance sends, a lease keeps them apart.
    running.webhooks = await startWebhooks(
      config,
      database.db,
      log,
      secrets.webhookSecret,
      keys.serviceRoleKey,
      metrics.registry,
    );
    // Months ahead and archives of partitioned tables (docs/partitions.md); one instance does each run.
    running.partitions = startPartitionMaintenance(database.db, log, config.partitionMaintenanceIntervalS);
    // cron.schedule jobs (docs/cron.md): every instance runs the scheduler; each tick is claimed once.
    if (config.cron.enabled)
      running.cron = startCronScheduler({
        db: database.db,
        url: database.url,
        log,
        registry: metrics.registry,
        ...config.cron,
      });
    // App email: templates and limits into the database, send-email jobs through the mail router.
    await startAppEmail(owned.services, running.jobs);
    // Web push: its VAPID keys, its deliveries as jobs of the runner (docs/push.md).
    const push = await startPush(owned.services);
    took('webhooks, cron, mail, push');
    const readiness: Readiness = {
      ...databaseReadiness(database.db, config.migrationsDir),
      // Not a 503: auth, data, storage and broadcast still serve; the note says what does not.
      // A replica down or lagging is degraded, not failing: its reads go to the primary.
      degraded: () => [...realtime.degraded(), ...replicaNotes(database.db)],
      sections: async () => ({
        ...(worker ? await worker.backupStatus() : (backup?.status() ?? {})),
        ...replicaSection(database.db),
      }),
      draining: () => running.draining === true,
    };
    // The runtime state first: whoever waits for /ready (a benchmark, a script) then finds it written.
    // A worker's primary writes it, with its own pid, once every worker serves.
    if (!worker)
      await writeRuntimeState(config.dataDir, {
        pid: process.pid,
        apiUrl: config.publicUrl,
        dbUrl: database.url,
        jwtSecret: keys.jwtSecret,
        startedAt: new Date().toISOString(),
      });
    // Edge functions (docs/functions.md): each in its own worker, started on its first call.
    running.functions = functionsModule(owned.services, database.url);
    const studioPassword = await studioPasswordMade;
    const studio: StudioRuntime = { realtime: () => realtime.live(), databaseUrl: database.url };
    if (running.studioServer) studioApp = buildStudioApp(owned.services, localUrl(server, config), studio);
    app = buildApp(
      owned.services,
      readiness,
      realtime,
      push.routes,
      running.functions,
      localUrl(server, config),
      studio,
      worker && (() => worker.backupMetrics()),
    );
    running.realtime = realtime;
    return {
      apiUrl: config.publicUrl,
      dbUrl: database.url,
      keys,
      ...(studioPassword !== undefined && { studioPassword }),
      drain: () => {
        running.draining = true;
      },
      stop: () => stopTrellis(config, log, running),
    };
  } catch (err) {
    await stopTrellis(config, log, running);
    throw err;
  }
}

async function stopTrellis(config: Config, log: Logger, running: Running) {
  const { server, database, owned, realtime, backup, partitions, cron, jobs } = running;
  // One deadline for the whole stop (the CLI's contract is an exit within shutdownTimeoutMs); each
  // step gets what is left of it, less what the steps after it need (the embedded database ~2.5 s).
  const deadline = Date.now() + config.shutdownTimeoutMs - 500;
  const left = (reserve: number) => Math.max(0, deadline - reserve - Date.now());
  const step = async (what: string, work: Promise<unknown> | undefined, ms: number) => {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        log.warn(`${what} did not finish within ${ms} ms; going on`);
        resolve();
      }, ms);
    });
    await Promise.race([
      Promise.resolve(work).catch((err: unknown) => log.warn(`${what} failed: ${errorMessage(err)}`)),
      late,
    ]);
    clearTimeout(timer);
  };
  // Realtime sockets are not HTTP requests server.close() waits for: they get a going-away close first.
  await step('closing realtime', realtime?.close(), left(6000));
  // Requests in flight go back to the queue at once, for another instance or the next start.
  await step('stopping the net sender', running.webhooks?.close(), left(6000));
  // Studio's port: its pages and admin calls need no drain.
  if (running.studioServer?.listening) {
    running.studioServer.close();
    running.studioServer.closeAllConnections();
  }
  if (server?.listening) {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    // In-flight requests get most of the budget; the database needs the rest to stop cleanly.
    const force = setTimeout(() => server.closeAllConnections(), left(3500));
    await step('finishing requests', closed, left(3000));
    clearTimeout(force);
  }
  // Running jobs get what is left before the services close; those still running then retry later.
  await step('finishing jobs', jobs?.close(Math.max(1000, left(3000))), left(2500));
  await step(
    'closing services',
    Promise.all([owned?.close(), backup?.close(), partitions?.close(), cron?.close(), running.functions?.close()]),
    left(2500),
  );
  await step('stopping the database', database?.close(), left(0));
  // Last, in the half second the deadline keeps in reserve: the spans of the stop go out too.
  await step(
    'exporting the last spans and error reports',
    Promise.all([running.tracing?.close(), running.errorReports?.close(400)]),
    500,
  );
  if (!running.worker) await releaseDataDir(config.dataDir);
}

const metricsAccess = (isPublic: boolean, tokens: Tokens): MetricsAccess =>
  isPublic ? { public: true } : { public: false, tokens };

function listen(server: http.Server, config: Config, port = config.port, setting = '--port'): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${config.host}:${port}`;
      if (err.code === 'EADDRINUSE') reject(new FatalError(`port ${port} is already in use (${where})`, setting));
      else if (err.code === 'EACCES') reject(new FatalError(`not allowed to listen on ${where}`, setting));
      else if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND')
        reject(new FatalError(`no such local address: ${config.host}`, 'HOST'));
      else reject(new FatalError(`cannot listen on ${where}: ${err.message}`, setting));
    });
    server.listen(port, config.host, () => {
      const address = server.address() as AddressInfo;
      if (address.port !== port) reject(new FatalError(`listening on an unexpected port ${address.port}`, setting));
      resolve();
    });
  });
}

function replicaNotes(db: Db): string[] {
  return (db.replicaStatus?.() ?? [])
    .filter((r) => r.state !== 'healthy')
    .map((r) => `read replica ${r.url} ${r.state}${r.reason ? `: ${r.reason}` : ''}`);
}

const replicaSection = (db: Db) => {
  const replicas = db.replicaStatus?.();
  return replicas ? { replicas } : {};
};

function databaseReadiness(db: Db, migrationsDir: string): Readiness {
  return {
    async check() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<string>((resolve) => {
        timer = setTimeout(() => resolve('database did not answer within 2 s'), 2000);
      });
      const probe = isMigrated(db, migrationsDir).then(
        (migrated) => (migrated ? undefined : 'migrations pending'),
        (err: unknown) => `database: ${errorMessage(err)}`,
      );
      try {
        return await Promise.race([probe, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
