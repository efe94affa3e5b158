/**
 * The net sender: sends what net.http_get/post/delete and supabase_functions.http_request queued.
 * It wakes on the queue's NOTIFY (delivered at commit) and on a slow poll as a backstop, claims up
 * to `concurrency` requests at a time, sends each, and writes its outcome; a database webhook that
 * fails is tried again later (retry.ts), signed afresh each time. Every instance runs one; the
 * claim's lease keeps them from sending one request twice.
 */
import type { Registry } from 'prom-client';
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../platform/logger.js';
import { netMetrics } from './metrics.js';
import { outcomeWriter } from './outcomes.js';
import {
  claimRequests,
  netSchemaKind,
  nextDueMs,
  purgeResponses,
  releaseRequest,
  retryRequest,
  type QueuedRequest,
} from './queue.js';
import { retryDelay, type RetryPolicy } from './retry.js';
import { sendRequest } from './send.js';
import { signatureHeaders } from './sign.js';

export interface NetSenderOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly concurrency: number;
  readonly pollIntervalMs: number;
  /** Responses older than this are deleted (0: kept). */
  readonly responseTtlS: number;
  readonly maxResponseBytes: number;
  readonly retry: RetryPolicy;
  /** The Standard Webhooks keys webhooks are signed with (several during a rotation); unsigned without any. */
  readonly signingKeys: readonly Buffer[];
  /** Where the outcome counter goes (GET /metrics); none without one. */
  readonly registry?: Registry;
  /** This server, for requests to its edge functions by name: its own address and the service role's key. */
  readonly functions: { readonly baseUrl: string; readonly serviceRoleKey: string };
}

export interface NetSender {
  /** Looks at the queue now (the NOTIFY does this on its own). */
  wake(): void;
  close(): Promise<void>;
}

// A lease outlives the request's own timeout by this much: time to write the outcome.
const LEASE_MARGIN_MS = 30_000;
const PURGE_EVERY_MS = 60_000;
const CHANNEL = 'trellis_net';

export async function startNetSender(options: NetSenderOptions): Promise<NetSender> {
  const { db, log } = options;
  const kind = await netSchemaKind(db);
  if (kind !== 'trellis') {
    log.warn(
      kind === 'pg_net'
        ? 'the database has the pg_net extension: its own worker sends net.http_* requests, Trellis does not'
        : 'the net schema is missing (migrations not applied): net.http_* requests are not sent',
    );
    return { wake: () => undefined, close: async () => undefined };
  }
  const count = netMetrics(options.registry);
  const finish = outcomeWriter(db);
  const cancel = new AbortController();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;
  let again = false;
  let loop: Promise<void> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastPurge = 0;

  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (stopped) return;
    timer = setTimeout(wake, ms);
    timer.unref();
  };

  const handle = async (queued: QueuedRequest) => {
    const request = queued.functionName === null ? queued : toFunction(queued, options.functions);
    const body = request.body ?? Buffer.alloc(0);
    const signed =
      request.webhook && options.signingKeys.length > 0
        ? signatureHeaders(options.signingKeys, `msg_${request.messageId}`, Math.floor(Date.now() / 1000), body)
        : {};
    const outcome = await sendRequest(
      request,
      { ...request.headers, ...signed },
      {
        maxResponseBytes: options.maxResponseBytes,
        cancel: cancel.signal,
      },
    );
    if (outcome.kind === 'cancelled') return releaseRequest(db, request.id);
    const delay = request.webhook ? retryDelay(outcome, request.attempts, options.retry, Date.now()) : undefined;
    count(request.webhook ? 'webhook' : 'net', outcome, delay !== undefined);
    if (delay === undefined) return finish(request.id, outcome);
    log.info(
      { request: request.id, attempt: request.attempts, waitMs: delay },
      `webhook ${request.id} to ${origin(request.url)} failed (${outcome.kind === 'response' ? outcome.status : outcome.kind}); retrying`,
    );
    return retryRequest(db, request.id, delay);
  };

  const track = (request: QueuedRequest) => {
    const work = handle(request)
      .catch((err: unknown) =>
        log.warn(
          { request: request.id },
          `net request ${request.id}: recording its outcome failed: ${errorMessage(err)}`,
        ),
      )
      .finally(() => {
        inFlight.delete(work);
        wake();
      });
    inFlight.add(work);
  };

  const pass = async () => {
    if (options.responseTtlS > 0 && Date.now() - lastPurge > PURGE_EVERY_MS) {
      lastPurge = Date.now();
      await purgeResponses(db, options.responseTtlS);
    }
    for (;;) {
      const free = options.concurrency - inFlight.size;
      // Full: each request that ends wakes the loop again.
      if (free <= 0 || stopped) return;
      const claimed = await claimRequests(db, free, LEASE_MARGIN_MS);
      for (const request of claimed) track(request);
      // Requests in flight wake the loop when they end; only an idle sender needs the timer.
      if (claimed.length > 0 && claimed.length < free) return;
      if (claimed.length === 0) break;
    }
    const wait = await nextDueMs(db);
    schedule(wait === undefined ? options.pollIntervalMs : Math.min(options.pollIntervalMs, Math.max(wait, 5)));
  };

  const run = async () => {
    while (again && !stopped) {
      again = false;
      try {
        await pass();
      } catch (err) {
        log.warn(`net sender: ${errorMessage(err)}`);
        schedule(options.pollIntervalMs);
        return;
      }
    }
  };

  function wake() {
    if (stopped) return;
    again = true;
    loop ??= run().finally(() => {
      loop = undefined;
      if (again) wake();
    });
  }

  db.listen(CHANNEL, wake);
  wake();
  return {
    wake,
    async close() {
      stopped = true;
      clearTimeout(timer);
      cancel.abort();
      await loop;
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** A request to one of this server's functions, called as the service role (unless it says otherwise). */
function toFunction(request: QueuedRequest, functions: NetSenderOptions['functions']): QueuedRequest {
  const named = (name: string) => Object.keys(request.headers).some((k) => k.toLowerCase() === name);
  const key = functions.serviceRoleKey;
  return {
    ...request,
    url: `${functions.baseUrl}/functions/v1/${encodeURIComponent(request.functionName ?? '')}`,
    headers: {
      ...(named('authorization') ? {} : { Authorization: `Bearer ${key}` }),
      ...(named('apikey') ? {} : { apikey: key }),
      ...request.headers,
    },
  };
}

/** A URL's origin for a log line: its path and query may hold tokens. */
function origin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return 'an invalid URL';
  }
}
