/**
 * The Services every module may use, built once by `createServices`. Each is an interface whose
 * implementation the configuration picks (in-process, or shared through Redis / S3 / SMTP).
 */
import cluster from 'node:cluster';
import type { Config } from './config.js';
import type { Db } from './db/index.js';
import { errorMessage } from './errors.js';
import { createBus, type Bus } from './platform/bus/index.js';
import { createResponseStore, type ResponseStore } from './platform/cache/index.js';
import { createRateLimiter, type RateLimiter } from './platform/limiter/index.js';
import type { Logger } from './platform/logger.js';
import { createMailer, createServerMailRouter, type Mailer, type MailRouter } from './platform/mailer/index.js';
import { loadTemplates, type Templates } from './platform/mailer/templates.js';
import type { Metrics } from './platform/metrics.js';
import { createSessionCheck } from './platform/sessions.js';
import { createTokens, type Tokens } from './platform/tokens.js';
import type { KeySet } from './platform/keyset.js';
import type { ApiKeys } from './project/secrets.js';
import { followKeyFile } from './project/signing-keys.js';
import {
  createObjectStores,
  createResumableStore,
  routedStore,
  ledgeredStore,
  type LedgeredStore,
  type ResumableStore,
} from './platform/store/index.js';
import { createReadFences, type ReadFences } from './platform/fence/index.js';
import type { JobRunner } from './jobs/index.js';

export interface Services {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly db: Db;
  /** The anon and service_role keys (and the secret they are signed with), as `trellis status` shows them. */
  readonly keys: ApiKeys;
  /** The one check of bearer tokens and API keys, with the secret as bytes. */
  readonly tokens: Tokens;
  readonly limiter: RateLimiter;
  readonly mailer: Mailer;
  /** The mail providers (MAIL_PROVIDERS, SMTP_URL or the outbox) with quotas and health; auth's mailer uses it. */
  readonly mailRouter: MailRouter;
  readonly templates: Templates;
  readonly store: LedgeredStore;
  /** Unfinished resumable (TUS) uploads: their bytes and state, beside the object store. */
  readonly resumable: ResumableStore;
  readonly bus: Bus;
  /** Read-your-writes with read replicas: the caller's fence for reads, the LSN of writes. */
  readonly fences: ReadFences;
  /** Cached data API answers (src/rest/response-cache): this process's memory, or Redis with REDIS_URL. */
  readonly responses: ResponseStore;
  /** Trellis's job runner (src/jobs/queue), started by the server; absent where none was started (most tests). */
  readonly jobs?: JobRunner;
}

export interface OwnedServices {
  readonly services: Services;
  /** Closes what createServices opened (not the database, which the caller opened). */
  close(): Promise<void>;
}

export type ServiceBase = Pick<Services, 'config' | 'log' | 'metrics' | 'db' | 'keys' | 'jobs'>;

/**
 * `keySet`: the signing keys (loaded by the start); without it the JWT secret alone signs.
 * `databaseUrl`: the server login's URL, for a bus over LISTEN/NOTIFY (platform/bus/index.ts).
 */
export async function createServices(base: ServiceBase, keySet?: KeySet, databaseUrl?: string): Promise<OwnedServices> {
  const { config, log, db } = base;
  const opened: { close(): Promise<void> }[] = [];
  const close = async () => {
    const results = await Promise.allSettled(opened.map((s) => s.close()));
    for (const r of results)
      if (r.status === 'rejected') log.warn(`closing a service failed: ${errorMessage(r.reason)}`);
  };
  try {
    const templates = await loadTemplates(config.auth.templatesDir);
    // A worker of `--workers N` without Redis counts in its primary (cli/cluster.ts serves the counters).
    const limiter = createRateLimiter({ redisUrl: config.redisUrl, clusterWorker: cluster.isWorker, log });
    opened.push(limiter);
    const mailRouter = createServerMailRouter({ ...config.mail, db, log, registry: base.metrics.registry });
    // The mailer closes the router.
    const mailer = createMailer({ smtpUrl: config.mail.smtpUrl, from: config.mail.from, db, log, router: mailRouter });
    opened.push(mailer);
    // Every write is entered before its bytes and swept when no row came (platform/store/pending.ts).
    const store = ledgeredStore(db, routedStore(db, await createObjectStores(config)), {
      ...config.storage.orphans,
      onSweepError: (err) => log.warn({ err }, 'sweeping orphaned object bytes failed'),
    });
    opened.push(store);
    void store.sweep().catch((err: unknown) => log.warn({ err }, 'sweeping orphaned object bytes failed'));
    const resumable = await createResumableStore(config, {
      ...config.storage.resumable,
      onSweepError: (err) => log.warn({ err }, 'sweeping expired resumable uploads failed'),
    });
    opened.push(resumable);
    const bus = createBus({
      kind: config.bus,
      redisUrl: config.redisUrl,
      databaseUrl,
      workers: config.workers,
      log,
    });
    opened.push(bus);
    const responses = createResponseStore({
      redisUrl: config.redisUrl,
      log,
      maxEntries: config.rest.cache.maxEntries,
      maxBytes: config.rest.cache.maxBytes,
    });
    opened.push(responses);
    const sessions =
      config.auth.sessionCheckSeconds > 0 ? createSessionCheck(db, config.auth.sessionCheckSeconds) : undefined;
    const tokens = createTokens(base.keys.jwtSecret, sessions, keySet);
    // The start read the keys; a rotation while it runs is followed (not for a set given by a test).
    const following = keySet && followKeyFile(config, base.keys.jwtSecret, (set) => tokens.useKeys(set), log);
    if (following) opened.push(following);
    const replicas = config.readReplicas;
    const fences = createReadFences({
      enabled: replicas.urls.length > 0,
      // Past this, a replica that probes healthy has replayed the write (its lag is under maxLagMs).
      ttlMs: replicas.maxLagMs + 2 * replicas.probeIntervalMs + 10_000,
      redisUrl: config.redisUrl,
      clusterWorker: cluster.isWorker,
      log,
    });
    opened.push(fences);
    const services: Services = {
      ...base,
      tokens,
      limiter,
      mailer,
      mailRouter,
      templates,
      store,
      resumable,
      bus,
      fences,
      responses,
    };
    return { services, close };
  } catch (err) {
    await close();
    throw err;
  }
}
