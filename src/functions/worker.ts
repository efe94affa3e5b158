/**
 * One function's worker thread: started from its bundle, given its environment (the project's keys
 * and URLs and the function secrets, never the server's own environment), held to the memory
 * limit by V8 (resourceLimits) and to the CPU limit by this side, which reads the thread's event
 * loop utilisation: time the thread spent running, which a busy loop cannot hide. A worker that
 * exceeds a limit, crashes or leaves a rejection unhandled is ended; its calls fail, the server
 * and the other functions go on.
 */
import { performance } from 'node:perf_hooks';
import readline from 'node:readline';
import type { Readable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../platform/logger.js';
import type { FromWorker, ToWorker, WorkerBoot } from './protocol.js';

export interface WorkerLimits {
  readonly cpuLimitMs: number;
  readonly memoryLimitMb: number;
}

/** Why a worker ended while calls were in it. */
export type WorkerEnd =
  | { readonly kind: 'cpu'; readonly message: string }
  | { readonly kind: 'memory'; readonly message: string }
  | { readonly kind: 'crash'; readonly message: string }
  | { readonly kind: 'boot'; readonly message: string }
  | { readonly kind: 'stopped'; readonly message: string };

/** What the worker tells one call. */
export interface CallSink {
  onMessage(message: FromWorker): void;
  onEnd(end: WorkerEnd): void;
  /** CPU milliseconds charged to this call so far. */
  cpuMs: number;
}

const CPU_CHECK_MS = 50;

export class FunctionWorker {
  readonly hash: string;
  private readonly worker: Worker;
  private readonly calls = new Map<number, CallSink>();
  private readonly ready: Promise<WorkerEnd | undefined>;
  private ended: WorkerEnd | undefined;
  private lastActive = 0;
  private bootCpuMs = 0;
  private booting = true;
  private readonly timer: NodeJS.Timeout;
  /** Milliseconds from start to the module's top level having run. */
  bootMs = 0;

  constructor(
    readonly name: string,
    bundle: { readonly path: string; readonly hash: string },
    env: Readonly<Record<string, string>>,
    hostFile: string,
    private readonly limits: WorkerLimits,
    private readonly log: Logger,
  ) {
    this.hash = bundle.hash;
    const started = performance.now();
    const boot: WorkerBoot = { name, bundlePath: bundle.path };
    this.worker = new Worker(hostFile, {
      workerData: boot,
      env: { ...env },
      stdout: true,
      stderr: true,
      resourceLimits: { maxOldGenerationSizeMb: limits.memoryLimitMb, maxYoungGenerationSizeMb: 16 },
      name: `function:${name}`,
    });
    this.forwardOutput(this.worker.stdout, 'info');
    this.forwardOutput(this.worker.stderr, 'warn');
    let settle: (end: WorkerEnd | undefined) => void = () => undefined;
    this.ready = new Promise((resolve) => (settle = resolve));
    this.worker.on('message', (message: FromWorker) => {
      if (message.t === 'ready') {
        this.booting = false;
        this.bootMs = performance.now() - started;
        settle(undefined);
      } else if (message.t === 'boot-error') {
        this.finish({ kind: 'boot', message: message.message });
      } else this.calls.get(message.id)?.onMessage(message);
    });
    this.worker.on('error', (err: Error & { code?: string }) => {
      const memory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.finish(
        memory
          ? { kind: 'memory', message: `the function went over its memory limit of ${limits.memoryLimitMb} MB` }
          : { kind: this.booting ? 'boot' : 'crash', message: `${err.name}: ${err.message}` },
      );
    });
    this.worker.on('exit', (code) => this.finish({ kind: 'crash', message: `the worker exited with code ${code}` }));
    // Settles `ready` with the end, whichever way the worker ends first.
    this.onEnd = (end) => settle(end);
    this.timer = setInterval(() => this.chargeCpu(), CPU_CHECK_MS);
    this.timer.unref();
  }

  private onEnd: (end: WorkerEnd) => void;

  /** Resolves once the module's top level ran; with the end instead if it did not boot. */
  whenReady(): Promise<WorkerEnd | undefined> {
    return this.ready;
  }

  get alive(): boolean {
    return this.ended === undefined;
  }

  get inFlight(): number {
    return this.calls.size;
  }

  attach(id: number, sink: CallSink): void {
    if (this.ended) {
      sink.onEnd(this.ended);
      return;
    }
    this.calls.set(id, sink);
  }

  detach(id: number): void {
    this.calls.delete(id);
  }

  send(message: ToWorker, transfer?: ArrayBuffer[]): void {
    if (!this.ended) this.worker.postMessage(message, transfer ?? []);
  }

  /** Ends the worker; its calls end with `end`. */
  stop(
    end: WorkerEnd = { kind: 'stopped', message: 'the function was reloaded or the server stopped' },
  ): Promise<void> {
    this.finish(end);
    return this.worker.terminate().then(() => undefined);
  }

  /**
   * The thread's running time since the last check, shared among the calls in it (their sum is
   * what the thread ran; a call alone in the worker is charged all of it). Time before the module
   * answered `ready` is its boot's, held to the same limit.
   */
  private chargeCpu(): void {
    if (this.ended) return;
    const active = this.worker.performance.eventLoopUtilization().active;
    const delta = active - this.lastActive;
    this.lastActive = active;
    if (delta <= 0) return;
    if (this.booting) {
      this.bootCpuMs += delta;
      if (this.bootCpuMs > this.limits.cpuLimitMs) void this.stop(this.cpuEnd());
      return;
    }
    if (this.calls.size === 0) return;
    const share = delta / this.calls.size;
    for (const sink of this.calls.values()) {
      sink.cpuMs += share;
      if (sink.cpuMs > this.limits.cpuLimitMs) {
        void this.stop(this.cpuEnd());
        return;
      }
    }
  }

  private cpuEnd(): WorkerEnd {
    return { kind: 'cpu', message: `the function went over its CPU time limit of ${this.limits.cpuLimitMs} ms` };
  }

  private finish(end: WorkerEnd): void {
    if (this.ended) return;
    this.ended = end;
    clearInterval(this.timer);
    if (end.kind !== 'stopped' || this.calls.size > 0)
      this.log.warn(
        { function: this.name, reason: end.kind, inFlight: this.calls.size },
        `function worker ended: ${end.message}`,
      );
    for (const sink of this.calls.values()) sink.onEnd(end);
    this.calls.clear();
    this.onEnd(end);
    void this.worker.terminate().catch(() => undefined);
  }

  /** The function's console output, a log line each, with its name. */
  private forwardOutput(stream: Readable, level: 'info' | 'warn'): void {
    const lines = readline.createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => this.log[level]({ function: this.name }, line));
  }
}
