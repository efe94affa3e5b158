/**
 * `trellis start --workers N`, the primary: it holds the data folder, starts the one database
 * (embedded, or DATABASE_URL's), applies migrations and runs the backup service; N workers
 * (node:cluster) serve HTTP and realtime on the one port, the primary handing each accepted
 * connection to the next worker in turn. Workers are forked first, so the port answers /health
 * (and /ready 503) while the database starts, as one process does.
 *
 * A worker that dies is started again after a delay that doubles with each quick death; five
 * quick deaths in a row stop the whole server (a worker that cannot start will not start on the
 * sixth try either). SIGTERM/SIGINT go to every worker; the database stops after the last exits.
 */
import cluster, { type Worker } from 'node:cluster';
import { Registry } from 'prom-client';
import type { Config } from '../config.js';
import { migrate, openDatabase, type OpenDatabase } from '../db/index.js';
import { startBackupService, type BackupService } from '../backup/index.js';
import { FatalError, StartAborted, errorMessage } from '../errors.js';
import { serveClusterFences } from '../platform/fence/index.js';
import { serveClusterRateLimits } from '../platform/limiter/index.js';
import type { Logger } from '../platform/logger.js';
import { loadKeySet } from '../project/signing-keys.js';
import { loadOrCreateSecrets, signApiKeys } from '../project/secrets.js';
import { lockDataDir, prepareDataDir, releaseDataDir, writeRuntimeState } from '../project/state.js';
import { answerWorkers } from '../platform/cluster-ipc.js';
import { BACKUP_METRICS_TOPIC, BACKUP_STATUS_TOPIC, isClusterMessage, type ClusterMessage } from './cluster-worker.js';
import { printBanner } from './banner.js';
import { ensureStudioPassword } from '../project/studio-password.js';

const QUICK_DEATH_MS = 30_000;
const MAX_QUICK_DEATHS = 5;
/** Workers drain and stop within the grace and the shutdown budget; past them (and a margin), they are killed. */
const WORKER_EXIT_MARGIN_MS = 2000;

export async function runPrimary(config: Config, log: Logger): Promise<number> {
  let stopping = false;
  let failure: string | undefined;
  const abort = new AbortController();
  let wake = () => undefined as void;
  const woken = () => new Promise<void>((resolve) => (wake = resolve));
  const stop = (reason?: string) => {
    if (reason !== undefined && failure === undefined) failure = reason;
    if (stopping) return;
    stopping = true;
    abort.abort('SIGTERM');
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    wake();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) log.info({ signal }, 'stopping: the workers drain and finish their requests');
    // Each worker drains (start.ts); SIGINT, or a second signal, tells them to skip the grace.
    const draining = stopping;
    stop();
    if (draining || signal === 'SIGINT')
      for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(draining ? 'SIGTERM' : signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  await prepareDataDir(config.dir, config.dataDir);
  await lockDataDir(config.dataDir);
  let database: OpenDatabase | undefined;
  let backup: BackupService | undefined;
  try {
    const secrets = await loadOrCreateSecrets(config.dataDir);
    const keys = await signApiKeys(config.jwtSecret ?? secrets.jwtSecret);
    // Before any worker: a key file is made or refused once, not by N processes at once.
    await loadKeySet(config, keys.jwtSecret);
    // The dashboard password too, made once here: every worker reads the same file.
    const studioPassword = config.studio.enabled ? await ensureStudioPassword(config.dataDir) : undefined;

    // Set once the database is migrated; until then workers that ask wait in `waiting`.
    let dbUrl: string | undefined = undefined;
    const waiting = new Set<Worker>();
    const ready = new Set<number>();
    let everyoneReady = false;
    let quickDeaths = 0;
    const bornAt = new Map<number, number>();

    const fork = () => {
      const worker = cluster.fork();
      bornAt.set(worker.id, Date.now());
      worker.on('message', (message: unknown) => {
        if (!isClusterMessage(message)) return;
        if (message.trellis === 'database?') {
          if (dbUrl === undefined) waiting.add(worker);
          else send(worker, { trellis: 'database', url: dbUrl });
        } else if (message.trellis === 'ready') {
          ready.add(worker.id);
          wake();
        }
      });
    };
    cluster.on('exit', (worker, code, signal) => {
      waiting.delete(worker);
      ready.delete(worker.id);
      const lived = Date.now() - (bornAt.get(worker.id) ?? 0);
      bornAt.delete(worker.id);
      if (stopping) return wake();
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (!everyoneReady) return stop(`a worker exited during the start (${how})`);
      quickDeaths = lived < QUICK_DEATH_MS ? quickDeaths + 1 : 0;
      if (quickDeaths >= MAX_QUICK_DEATHS)
        return stop(`workers keep dying (${quickDeaths} within ${QUICK_DEATH_MS / 1000} s of starting)`);
      const delay = quickDeaths === 0 ? 0 : Math.min(250 * 2 ** (quickDeaths - 1), 10_000);
      log.warn({ pid: worker.process.pid, exit: how, restartInMs: delay }, 'a worker died; starting another');
      setTimeout(() => stopping || fork(), delay).unref();
    });
    // The backups run here: workers show their /ready section and /metrics series.
    const backupRegistry = new Registry();
    answerWorkers(BACKUP_STATUS_TOPIC, () => backup?.status() ?? {});
    answerWorkers(BACKUP_METRICS_TOPIC, () => backupRegistry.metrics());
    // Without Redis the box's one budget of rate limits and one map of read fences live here.
    if (config.redisUrl === undefined) {
      serveClusterRateLimits();
      if (config.readReplicas.urls.length > 0) serveClusterFences();
    }
    for (let i = 0; i < config.workers; i++) fork();

    database = await openDatabase(config, secrets, log);
    if (!stopping)
      await migrate(database.db, config.migrationsDir, {
        dryRun: false,
        onProgress: (m) => log.info(m),
        abort: abort.signal,
        seed: config.seed,
        buckets: config.storage.buckets,
      });
    if (!stopping) await warnOnConnections(database, config, log);
    dbUrl = database.url;
    for (const worker of waiting) send(worker, { trellis: 'database', url: dbUrl });
    waiting.clear();
    if (!config.databaseUrl && !stopping)
      backup = await startBackupService({ config, log, registry: backupRegistry, dbUrl });

    while (!stopping && ready.size < config.workers) await woken();
    if (!stopping) {
      everyoneReady = true;
      await writeRuntimeState(config.dataDir, {
        pid: process.pid,
        apiUrl: config.publicUrl,
        dbUrl: database.url,
        jwtSecret: keys.jwtSecret,
        startedAt: new Date().toISOString(),
      });
      printBanner(config, config.publicUrl, database.url, keys, config.workers, studioPassword);
      log.info({ apiUrl: config.publicUrl, workers: config.workers }, 'ready');
    }
    while (!stopping) await woken();
    await workersGone(config.drainGraceMs + config.shutdownTimeoutMs + WORKER_EXIT_MARGIN_MS, log);
  } catch (err) {
    stop();
    await workersGone(config.drainGraceMs + config.shutdownTimeoutMs + WORKER_EXIT_MARGIN_MS, log);
    if (err instanceof FatalError) failure = err.message;
    else if (!(err instanceof StartAborted)) throw err;
  } finally {
    await backup?.close().catch((err: unknown) => log.warn(`closing backups failed: ${errorMessage(err)}`));
    await database?.close();
    await releaseDataDir(config.dataDir);
  }
  if (failure === undefined) {
    log.info('stopped');
    return 0;
  }
  throw new FatalError(failure);
}

function send(worker: Worker, message: ClusterMessage): void {
  if (worker.isConnected()) worker.send(message);
}

/** Resolves once every worker has exited; kills the ones still there after `ms`. */
async function workersGone(ms: number, log: Logger): Promise<void> {
  const alive = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  const deadline = Date.now() + ms;
  while (alive().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const stuck = alive();
  if (stuck.length === 0) return;
  log.error({ pids: stuck.map((w) => w.process.pid) }, `workers still running after ${ms} ms: killed`);
  for (const w of stuck) w.process.kill('SIGKILL');
  while (alive().length > 0) await new Promise((r) => setTimeout(r, 50));
}

/**
 * Each worker opens up to DB_POOL_MAX connections plus a few of its own (bus, schema reloads, the
 * change feed); past the server's max_connections, requests would fail under load, not at start.
 */
async function warnOnConnections(database: OpenDatabase, config: Config, log: Logger): Promise<void> {
  const { rows } = await database.db.query<{ max: string }>('select current_setting($1) as max', ['max_connections']);
  const max = Number(rows[0]?.max ?? 100);
  const needed = config.workers * (config.pool.max + 4) + config.pool.max;
  if (needed > max)
    log.warn(
      { workers: config.workers, poolMax: config.pool.max, maxConnections: max },
      `${config.workers} workers may open ${needed} connections, more than the server's max_connections (${max}): lower DB_POOL_MAX or TRELLIS_WORKERS`,
    );
}
