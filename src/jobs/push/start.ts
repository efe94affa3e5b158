/** Web push as `trellis start` runs it: keys, the delivery handler on the job runner, /push/v1. */
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import type { Hono } from 'hono';
import { Counter } from 'prom-client';
import type { HttpEnv } from '../../platform/http.js';
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import type { Logger } from '../../platform/logger.js';
import type { Metrics } from '../../platform/metrics.js';
import type { JobRunner } from '../queue/index.js';
import { PUSH_TASK, pushHandler, type PushJob } from './deliver.js';
import { pushRoutes } from './routes.js';
import { loadVapidKeys } from './vapid.js';

export interface PushModule {
  /** Mounted at /push/v1. */
  readonly routes: Hono<HttpEnv>;
  readonly publicKey: string;
}

/**
 * `services.jobs`: the server's runner, which the deliveries run on. (The services' fields, not
 * the Services type, which imports the job runner's door.)
 */
export async function startPush(services: {
  readonly config: Config;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly db: Db;
  readonly jobs?: JobRunner;
}): Promise<PushModule> {
  const { config, log, metrics, db, jobs: runner } = services;
  if (!runner) throw new Error('web push needs the job runner (Services.jobs)');
  const keys = await loadVapidKeys(db, config.push);
  const sent = new Counter({
    name: 'trellis_push_sent_total',
    help: 'Web pushes this process handed to push services, by outcome (delivered, expired, retry, rejected).',
    labelNames: ['outcome'],
    registers: [metrics.registry],
  });
  // One pool of kept-alive connections: most pushes of a project go to a few push services.
  const agent = new https.Agent({
    keepAlive: true,
    maxSockets: 64,
    ...(config.push.caFile ? { ca: [...tls.rootCertificates, fs.readFileSync(config.push.caFile, 'utf8')] } : {}),
  });
  await runner.handle<PushJob>(
    PUSH_TASK,
    pushHandler({ db, log, keys, agent, timeoutMs: config.push.timeoutMs, counted: (o) => sent.inc({ outcome: o }) }),
    { batchSize: 25, workers: 2 },
  );
  return { routes: pushRoutes(keys.publicKey), publicKey: keys.publicKey };
}
