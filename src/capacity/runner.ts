/**
 * Runs virtual users against a target for one load step: each user takes turns (a few real
 * protocol operations) separated by think time, for a bounded time. Users are made once and
 * reused by later steps, so a step of 200 users after one of 100 signs in only 100 more.
 */
import { LatencyRecorder } from './stats.js';

export interface VirtualUser {
  /** One turn of the user's behaviour, each operation timed through `recorder`. */
  turn(recorder: LatencyRecorder): Promise<void>;
  close?(): Promise<void>;
}

export interface StepOptions {
  readonly users: number;
  readonly seconds: number;
  /** Ramp-up and settling before measuring; its operations are not counted. */
  readonly warmupSeconds: number;
  /** Mean pause between a user's turns; 0 for a closed loop at full speed. */
  readonly thinkMs: number;
  /** Called about once a second while measuring, with the seconds measured so far. */
  readonly onProgress?: (measuredSeconds: number, recorder: LatencyRecorder) => void;
}

export class UserPool {
  private readonly users: VirtualUser[] = [];

  constructor(private readonly make: (index: number) => Promise<VirtualUser>) {}

  /** The first `n` users, making the missing ones (ten at a time, so set-up does not flood the target). */
  async take(n: number): Promise<readonly VirtualUser[]> {
    while (this.users.length < n) {
      const from = this.users.length;
      const batch = await Promise.all(Array.from({ length: Math.min(10, n - from) }, (_, i) => this.make(from + i)));
      this.users.push(...batch);
    }
    return this.users.slice(0, n);
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.users.map(async (u) => u.close?.()));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one step and returns what it measured (the warm-up excluded). */
export async function runStep(pool: UserPool, options: StepOptions): Promise<LatencyRecorder> {
  const users = await pool.take(options.users);
  const warmup = new LatencyRecorder();
  const measured = new LatencyRecorder();
  const started = performance.now();
  const measureFrom = started + options.warmupSeconds * 1000;
  const end = measureFrom + options.seconds * 1000;
  const progress = setInterval(() => {
    const now = performance.now();
    if (now >= measureFrom) options.onProgress?.((now - measureFrom) / 1000, measured);
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
    clearInterval(progress);
    warmup.freeze();
    measured.freeze();
  }
  return measured;
}
