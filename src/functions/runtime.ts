/**
 * The functions of one project: each built on first call (and again when a source file's mtime
 * changes), run in its own worker, with at most `maxConcurrency` calls at once and as many
 * waiting. A call is a web Request in and a Response out, whose body streams from the worker.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../platform/logger.js';
import { bundleFunction, isStale, mtimeOf, type Bundle } from './bundle.js';
import { hostFile } from './host-file.js';
import { receivedBody, SendWindow, type ReceivedBody } from './flow.js';
import type { FromWorker } from './protocol.js';
import { FunctionWorker, type CallSink, type WorkerEnd, type WorkerLimits } from './worker.js';

export interface RuntimeOptions extends WorkerLimits {
  readonly functionsDir: string;
  /** Where bundles are written (the data folder's `functions/`). */
  readonly outDir: string;
  readonly wallLimitS: number;
  readonly maxConcurrency: number;
  readonly maxBodyBytes: number;
  /** Seconds a worker with no call is kept before it is stopped (0: kept). */
  readonly idleTimeoutS: number;
  /** Rebuild a function whose files changed (`--dev`); otherwise its first build is kept. */
  readonly watch: boolean;
  /** The functions' environment, read again when `changed()` says so (secrets set while running). */
  readonly env: () => Promise<Readonly<Record<string, string>>>;
  /** Files whose change restarts every worker (the secrets file, functions/.env). */
  readonly envFiles: readonly string[];
  readonly log: Logger;
}

/** What a call came to: a response, or a failure the routes render in Supabase's words. */
export type CallOutcome =
  | { readonly kind: 'response'; readonly response: Response; readonly done: Promise<CallStats> }
  | { readonly kind: 'failure'; readonly failure: CallFailure };

export type CallFailure =
  | { readonly kind: 'missing' }
  | { readonly kind: 'build'; readonly message: string }
  | { readonly kind: 'boot'; readonly message: string }
  | { readonly kind: 'limit'; readonly end: WorkerEnd }
  | { readonly kind: 'timeout'; readonly seconds: number }
  | { readonly kind: 'threw'; readonly message: string }
  | { readonly kind: 'not-response'; readonly got: string }
  | { readonly kind: 'too-large'; readonly limit: number }
  | { readonly kind: 'busy' };

export interface CallStats {
  readonly cpuMs: number;
  /** Whether this call started the worker (a cold start), and how long the start took. */
  readonly coldStartMs: number | undefined;
}

interface Slot {
  bundle?: Bundle;
  worker?: FunctionWorker;
  checkedAt: number;
  building?: Promise<void>;
  buildFailure?: CallFailure;
  active: number;
  readonly waiting: (() => void)[];
  idleTimer?: NodeJS.Timeout;
}

/** How often a warm function's sources are checked for changes. */
const STALE_CHECK_MS = 250;

export class FunctionRuntime {
  private readonly slots = new Map<string, Slot>();
  private nextId = 1;
  private envCache?: { readonly env: Readonly<Record<string, string>>; readonly stamps: string };
  private envCheckedAt = 0;
  private host?: Promise<string>;
  private closed = false;

  constructor(private readonly options: RuntimeOptions) {}

  async close(): Promise<void> {
    this.closed = true;
    for (const slot of this.slots.values()) clearTimeout(slot.idleTimer);
    const workers = [...this.slots.values()].flatMap((s) => (s.worker ? [s.worker] : []));
    this.slots.clear();
    await Promise.all(workers.map((w) => w.stop()));
  }

  /** Calls function `name` with `request` (its URL already the one the function should see). */
  async call(
    name: string,
    request: { method: string; url: string; headers: [string, string][]; body: ReadableStream<Uint8Array> | null },
    remote: { hostname: string; port: number },
    clientSignal: AbortSignal,
  ): Promise<CallOutcome> {
    const slot = this.slotOf(name);
    const admitted = await this.admit(slot);
    if (!admitted) return fail({ kind: 'busy' });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      slot.active -= 1;
      slot.waiting.shift()?.();
      if (slot.active === 0) this.stopWhenIdle(slot);
    };
    try {
      const prepared = await this.prepare(name, slot);
      if ('failure' in prepared) {
        release();
        return fail(prepared.failure);
      }
      const outcome = await this.run(prepared.worker, prepared.cold, request, remote, clientSignal);
      if (outcome.kind === 'failure') release();
      else void outcome.done.finally(release);
      return outcome;
    } catch (err) {
      release();
      throw err;
    }
  }

  /** An idle worker holds its heap: stopped after idleTimeoutS without a call, started again by the next. */
  private stopWhenIdle(slot: Slot): void {
    const seconds = this.options.idleTimeoutS;
    if (seconds === 0 || !slot.worker) return;
    clearTimeout(slot.idleTimer);
    slot.idleTimer = setTimeout(() => {
      slot.idleTimer = undefined;
      if (slot.active === 0 && slot.worker?.alive) {
        void slot.worker.stop();
        slot.worker = undefined;
      }
    }, seconds * 1000);
    slot.idleTimer.unref();
  }

  private slotOf(name: string): Slot {
    let slot = this.slots.get(name);
    if (!slot) {
      slot = { checkedAt: 0, active: 0, waiting: [] };
      this.slots.set(name, slot);
    }
    return slot;
  }

  private async admit(slot: Slot): Promise<boolean> {
    const { maxConcurrency } = this.options;
    clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    if (slot.active < maxConcurrency) {
      slot.active += 1;
      return true;
    }
    if (slot.waiting.length >= maxConcurrency) return false;
    await new Promise<void>((resolve) => slot.waiting.push(resolve));
    slot.active += 1;
    return true;
  }

  /** The slot's worker for the current sources and environment, built and started when needed. */
  private async prepare(
    name: string,
    slot: Slot,
  ): Promise<{ worker: FunctionWorker; cold: boolean } | { failure: CallFailure }> {
    const env = await this.currentEnv();
    const now = performance.now();
    if (slot.building) await slot.building;
    else if (!slot.bundle || (this.options.watch && now - slot.checkedAt >= STALE_CHECK_MS)) {
      slot.checkedAt = now;
      if (!slot.bundle || (await isStale(slot.bundle))) {
        slot.building = this.build(name, slot).finally(() => (slot.building = undefined));
        await slot.building;
      }
    }
    if (slot.buildFailure) {
      // A name that serves nothing keeps no slot: calls to made-up names must not grow the map.
      if (slot.buildFailure.kind === 'missing' && slot.active <= 1 && this.slots.get(name) === slot)
        this.slots.delete(name);
      return { failure: slot.buildFailure };
    }
    const bundle = slot.bundle;
    if (!bundle) return { failure: { kind: 'missing' } };
    let cold = false;
    const stamp = `${bundle.hash}:${env.stamps}`;
    if (!slot.worker || !slot.worker.alive || workerStamp.get(slot.worker) !== stamp) {
      const old = slot.worker;
      // A reloaded function's old worker finishes the calls it has, then ends.
      if (old?.alive) void drainThenStop(old);
      slot.worker = new FunctionWorker(name, bundle, env.env, await this.hostFile(), this.options, this.options.log);
      workerStamp.set(slot.worker, stamp);
      cold = true;
    }
    const worker = slot.worker;
    const booted = await worker.whenReady();
    if (booted)
      return {
        failure: booted.kind === 'boot' ? { kind: 'boot', message: booted.message } : { kind: 'limit', end: booted },
      };
    return { worker, cold };
  }

  private async build(name: string, slot: Slot): Promise<void> {
    const result = await bundleFunction(this.options.functionsDir, name, this.options.outDir);
    if (result.ok) {
      slot.bundle = result.bundle;
      slot.buildFailure = undefined;
      return;
    }
    slot.bundle = undefined;
    slot.buildFailure = result.missing ? { kind: 'missing' } : { kind: 'build', message: result.message };
    // A missing or broken function is looked at again on its next call (it may be written meanwhile).
    slot.checkedAt = 0;
    if (!result.missing) this.options.log.warn({ function: name }, `function does not build: ${result.message}`);
    if (slot.worker?.alive) void slot.worker.stop();
    slot.worker = undefined;
  }

  private async currentEnv(): Promise<{ env: Readonly<Record<string, string>>; stamps: string }> {
    const now = performance.now();
    if (this.envCache && now - this.envCheckedAt < STALE_CHECK_MS) return this.envCache;
    this.envCheckedAt = now;
    const stamps = (await Promise.all(this.options.envFiles.map(mtimeOf))).join(',');
    if (!this.envCache || this.envCache.stamps !== stamps) this.envCache = { env: await this.options.env(), stamps };
    return this.envCache;
  }

  private hostFile(): Promise<string> {
    this.host ??= hostFile();
    return this.host;
  }

  private run(
    worker: FunctionWorker,
    cold: boolean,
    request: { method: string; url: string; headers: [string, string][]; body: ReadableStream<Uint8Array> | null },
    remote: { hostname: string; port: number },
    clientSignal: AbortSignal,
  ): Promise<CallOutcome> {
    const id = this.nextId++;
    const { wallLimitS, maxBodyBytes } = this.options;
    return new Promise<CallOutcome>((resolve) => {
      let answered = false;
      let received: ReceivedBody | undefined;
      let ended = false;
      const requestWindow = new SendWindow();
      let finish: (stats: CallStats) => void = () => undefined;
      const done = new Promise<CallStats>((r) => (finish = r));
      const stats = (): CallStats => ({ cpuMs: sink.cpuMs, coldStartMs: cold ? worker.bootMs : undefined });
      const end = (outcome?: CallOutcome) => {
        ended = true;
        requestWindow.wake();
        clearTimeout(wall);
        clientSignal.removeEventListener('abort', onClientGone);
        worker.detach(id);
        if (!answered && outcome) {
          answered = true;
          resolve(outcome);
        }
        finish(stats());
      };
      const cancel = () => worker.send({ t: 'cancel', id });
      const sink: CallSink = {
        cpuMs: 0,
        onMessage: (message: FromWorker) => {
          switch (message.t) {
            case 'head': {
              received = message.hasBody
                ? receivedBody(
                    (taken) => worker.send({ t: 'more', id, taken }),
                    () => {
                      cancel();
                      end();
                    },
                  )
                : undefined;
              const body = received?.stream ?? null;
              answered = true;
              resolve({
                kind: 'response',
                response: new Response(nullBodyStatus(message.status) ? null : body, {
                  status: message.status,
                  headers: message.headers as [string, string][],
                }),
                done,
              });
              if (!body || nullBodyStatus(message.status)) end();
              return;
            }
            case 'whole':
              answered = true;
              resolve({
                kind: 'response',
                response: new Response(
                  nullBodyStatus(message.status) ? null : (message.body as Uint8Array<ArrayBuffer> | null),
                  {
                    status: message.status,
                    headers: message.headers as [string, string][],
                  },
                ),
                done,
              });
              end();
              return;
            case 'chunk':
              received?.push(message.chunk);
              return;
            case 'end':
              received?.close();
              end();
              return;
            case 'body-more':
              requestWindow.took(message.taken);
              return;
            case 'fail':
              if (answered) received?.error(new Error(message.message));
              end(
                fail(
                  message.kind === 'threw'
                    ? { kind: 'threw', message: message.message }
                    : { kind: 'not-response', got: message.message },
                ),
              );
              return;
            default:
              return;
          }
        },
        onEnd: (workerEnd: WorkerEnd) => {
          if (answered) received?.error(new Error(workerEnd.message));
          end(fail({ kind: 'limit', end: workerEnd }));
        },
      };
      const wall = setTimeout(() => {
        cancel();
        if (answered) received?.error(new Error(`the function ran past its wall-clock limit of ${wallLimitS} s`));
        end(fail({ kind: 'timeout', seconds: wallLimitS }));
      }, wallLimitS * 1000);
      const onClientGone = () => {
        cancel();
        end(fail({ kind: 'timeout', seconds: 0 }));
      };
      clientSignal.addEventListener('abort', onClientGone, { once: true });
      worker.attach(id, sink);
      worker.send({
        t: 'req',
        id,
        method: request.method,
        url: request.url,
        headers: request.headers,
        hasBody: request.body !== null,
        remote,
      });
      if (request.body)
        void pumpBody(
          request.body,
          maxBodyBytes,
          worker,
          id,
          requestWindow,
          () => ended,
          () => {
            cancel();
            end(fail({ kind: 'too-large', limit: maxBodyBytes }));
          },
        );
    });
  }
}

/** The environment stamp a worker was started with: a different one means it must be replaced. */
const workerStamp = new WeakMap<FunctionWorker, string>();

async function drainThenStop(worker: FunctionWorker): Promise<void> {
  while (worker.alive && worker.inFlight > 0) await new Promise((r) => setTimeout(r, 50));
  await worker.stop();
}

/**
 * Sends the request body to the worker in chunks, no faster than the function reads it (`window`),
 * until the call has `ended`; `overLimit` when it grows past `limit` bytes.
 */
async function pumpBody(
  body: ReadableStream<Uint8Array>,
  limit: number,
  worker: FunctionWorker,
  id: number,
  window: SendWindow,
  ended: () => boolean,
  overLimit: () => void,
): Promise<void> {
  const reader = body.getReader();
  let total = 0;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > limit) {
        overLimit();
        await reader.cancel().catch(() => undefined);
        return;
      }
      await window.room(value.byteLength, ended);
      if (ended()) return void (await reader.cancel().catch(() => undefined));
      worker.send({ t: 'body', id, chunk: value });
    }
    worker.send({ t: 'body-end', id });
  } catch {
    // The client went away mid-body: the call is cancelled by its signal.
  }
}

const fail = (failure: CallFailure): CallOutcome => ({ kind: 'failure', failure });

/** Statuses a Response may not carry a body with. */
const nullBodyStatus = (status: number) => status === 101 || status === 204 || status === 205 || status === 304;
