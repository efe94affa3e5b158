/**
 * Runs virtual users for one load step: each user takes turns (a few real protocol operations)
 * separated by think time, for a bounded time. Users are made once and reused by later steps, so a
 * step of 200 users after one of 100 signs in only 100 more. It runs inside a load generator
 * (src/capacity/generator.ts), which also measures itself over the step: its event-loop lag and
 * its CPU, so the harness can tell a slow target from a generator that could not keep up.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { LatencyRecorder } from './stats.js';
import type { GeneratorLoad } from './stepping.js';

export interface VirtualUser {
  /** One turn of the user's behaviour, each operation timed through `recorder`. */
  turn(recorder: LatencyRecorder): Promise<void>;
  close?(): Promise<void>;
}

export interface StepOptions {
  readonly seconds: number;
  /** Ramp-up and settling before measuring; its operations are not counted. */
  readonly warmupSeconds: number;
  /** Mean pause between a user's turns; 0 for a closed loop at full speed. */
  readonly thinkMs: number;
  /** Called as measuring starts (0) and about once a second after, with the seconds measured so far. */
  readonly onProgress?: (measuredSeconds: number, recorder: LatencyRecorder) => void;
}

export class UserPool {
  private readonly users = new Map<number, VirtualUser>();

  constructor(private readonly make: (index: number) => Promise<VirtualUser>) {}

  /** The users of these indices, making the missing ones (ten at a time, so set-up does not flood the target). */
  async take(indices: readonly number[]): Promise<readonly VirtualUser[]> {
    const missing = indices.filter((i) => !this.users.has(i));
    for (let from = 0; from < missing.length; from += 10) {
      const batch = missing.slice(from, from + 10);
      const made = await Promise.all(batch.map((i) => this.make(i)));
      batch.forEach((i, k) => this.users.set(i, made[k] as VirtualUser));
    }
    return indices.map((i) => this.users.get(i) as VirtualUser);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.users.values()].map(async (u) => u.close?.()));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The event-loop delay histogram's sampling interval: what it reports beyond this is lag. */
const LAG_RESOLUTION_MS = 10;

export interface StepRun {
  readonly recorder: LatencyRecorder;
  /** The generator's own lag and CPU over the measured window. */
  readonly load: GeneratorLoad;
}

/** Runs one step and returns what it measured (the warm-up excluded). */
export async function runStep(users: readonly VirtualUser[], options: StepOptions): Promise<StepRun> {
  const warmup = new LatencyRecorder();
  const measured = new LatencyRecorder();
  const started = performance.now();
  const measureFrom = started + options.warmupSeconds * 1000;
  const end = measureFrom + options.seconds * 1000;
  const lag = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
  let cpuFrom: NodeJS.CpuUsage | undefined;
  const window = setTimeout(
    () => {
      cpuFrom = process.cpuUsage();
      lag.enable();
      // The window opens: the harness samples the server now (its CPU is measured over the same time).
      options.onProgress?.(0, measured);
    },
    Math.max(0, measureFrom - performance.now()),
  );
  const progress = setInterval(() => {
    const now = performance.now();
    if (cpuFrom) options.onProgress?.(Math.max(0, now - measureFrom) / 1000, measured);
  }, 1000);
  try {
    await Promise.all(
      users.map(async (user, i) => {
        // Spread the users' first turns over the warm-up (or the think time), not all at once.
        await sleep(((i / users.length) * Math.min(options.warmupSeconds * 1000, Math.max(options.thinkMs, 1))) | 0);
        while (performance.now() < end) {
          const turnStarted = performance.now();
          await user.turn(turnStarted >= measureFrom ? measured : warmup);
          if (options.thinkMs > 0) {
            const pause = options.thinkMs * (0.5 + Math.random());
            await sleep(Math.min(pause, Math.max(0, end - performance.now())));
          }
        }
      }),
    );
  } finally {
    clearTimeout(window);
    clearInterval(progress);
    lag.disable();
    warmup.freeze();
    measured.freeze();
  }
  const wallMs = Math.max(1, performance.now() - measureFrom);
  const cpu = process.cpuUsage(cpuFrom);
  const beyond = (ns: number) => (Number.isFinite(ns) ? Math.max(0, ns / 1e6 - LAG_RESOLUTION_MS) : 0);
  return {
    recorder: measured,
    load: {
      lagP99Ms: lag.count > 0 ? beyond(lag.percentile(99)) : 0,
      lagMaxMs: lag.count > 0 ? beyond(lag.max) : 0,
      cpuPercent: cpuFrom ? ((cpu.user + cpu.system) / 1000 / wallMs) * 100 : 0,
    },
  };
}
