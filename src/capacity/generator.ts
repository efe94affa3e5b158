/**
 * Load generators: the virtual users run in child processes, not in the harness, each with its
 * own event loop and CPU, so the load one process can drive is not the limit of the measurement.
 * Each generator reports a step's window as histograms (src/capacity/stats.ts), its errors, and
 * its own event-loop lag and CPU; the harness merges them and judges whether they could drive the
 * step (src/capacity/stepping.ts). Virtual user i runs in generator i mod N.
 *
 * The child: `node dist/capacity/generator.js`, spoken to over IPC (messages below).
 */
import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { UserPool, runStep } from './runner.js';
import { scenarios } from './scenarios/index.js';
import type { ClientTarget, ScenarioClients, SharedSetup } from './scenarios/scenario.js';
import { LatencyRecorder, type OpSnapshot } from './stats.js';
import type { GeneratorLoad } from './stepping.js';

/** Whose users a step runs: Trellis's, the floor's or the peer's. */
export type PoolName = 'trellis' | 'floor' | 'peer';

export interface GeneratorStepOptions {
  readonly users: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly thinkMs: number;
}

type ToChild =
  | { kind: 'init'; id: number; scenario: string; target: ClientTarget; shared: SharedSetup }
  | { kind: 'take'; id: number; pool: PoolName; indices: number[] }
  | { kind: 'run'; id: number; pool: PoolName; indices: number[]; startAt: number; step: GeneratorStepOptions }
  | { kind: 'close'; id: number };

type FromChild =
  | { kind: 'ok'; id: number }
  | { kind: 'failed'; id: number; message: string }
  | { kind: 'progress'; id: number; seconds: number; window: OpSnapshot[] }
  | { kind: 'done'; id: number; window: OpSnapshot[]; load: GeneratorLoad };

/** A message without its id (the call adds it), for each kind. */
type Request = ToChild extends infer T ? (T extends { id: number } ? Omit<T, 'id'> : never) : never;

/** The indices of the first `users` virtual users that generator `g` of `count` runs. Pure. */
export function indicesFor(g: number, count: number, users: number): number[] {
  const out: number[] = [];
  for (let i = g; i < users; i += count) out.push(i);
  return out;
}

export interface GeneratorStep {
  /** Every generator's window merged. */
  readonly recorder: LatencyRecorder;
  /** Each generator's own lag and CPU, in generator order. */
  readonly loads: readonly GeneratorLoad[];
}

export interface Generators {
  readonly count: number;
  /** Runs `users` users of `pool` over every generator, started together; progress merged. */
  step(
    pool: PoolName,
    options: GeneratorStepOptions,
    onProgress?: (measuredSeconds: number, recorder: LatencyRecorder) => void,
  ): Promise<GeneratorStep>;
  close(): Promise<void>;
}

const CHILD = path.join(import.meta.dirname, 'generator.js');

/** A child generator and the calls in flight to it. */
class Child {
  private next = 0;
  private readonly pending = new Map<
    number,
    { resolve: (m: FromChild) => void; reject: (e: Error) => void; progress?: (m: FromChild) => void }
  >();
  private stderr = '';
  private exited: string | undefined;

  constructor(private readonly process: ChildProcess) {
    process.stderr?.on('data', (c: Buffer) => (this.stderr = (this.stderr + c.toString()).slice(-1000)));
    process.on('message', (m: FromChild) => {
      const call = this.pending.get(m.id);
      if (!call) return;
      if (m.kind === 'progress') return call.progress?.(m);
      this.pending.delete(m.id);
      if (m.kind === 'failed') call.reject(new Error(m.message));
      else call.resolve(m);
    });
    process.on('exit', (code, signal) => {
      this.exited = `a load generator exited (${signal ?? code})${this.stderr.trim() ? `: ${this.stderr.trim()}` : ''}`;
      for (const call of this.pending.values()) call.reject(new Error(this.exited));
      this.pending.clear();
    });
  }

  call(message: Request, progress?: (m: FromChild) => void): Promise<FromChild> {
    if (this.exited) return Promise.reject(new Error(this.exited));
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, ...(progress ? { progress } : {}) });
      this.process.send({ ...message, id });
    });
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    await Promise.race([this.call({ kind: 'close' }).catch(() => undefined), gone]);
    if (this.process.connected) this.process.disconnect();
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 5000);
    await gone;
    clearTimeout(timer);
  }
}

export async function startGenerators(
  count: number,
  scenario: string,
  target: ClientTarget,
  shared: SharedSetup,
): Promise<Generators> {
  const children = Array.from(
    { length: count },
    () => new Child(fork(CHILD, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'] })),
  );
  const stop = () => Promise.allSettled(children.map((c) => c.stop()));
  try {
    await Promise.all(children.map((c) => c.call({ kind: 'init', scenario, target, shared })));
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    count,
    async step(pool, options, onProgress) {
      const indices = children.map((_, g) => indicesFor(g, count, options.users));
      // Users are made (signed in, connected) before the clock starts, then all start together.
      await Promise.all(children.map((c, g) => c.call({ kind: 'take', pool, indices: indices[g] ?? [] })));
      const startAt = Date.now() + 20;
      const latest: OpSnapshot[][] = children.map(() => []);
      const done = await Promise.all(
        children.map((c, g) =>
          c.call({ kind: 'run', pool, indices: indices[g] ?? [], startAt, step: options }, (m) => {
            if (m.kind !== 'progress') return;
            latest[g] = m.window;
            // Reported by the first generator's clock, with what every generator last sent.
            if (g === 0) onProgress?.(m.seconds, LatencyRecorder.merged(latest));
          }),
        ),
      );
      const finished = done.filter((m): m is Extract<FromChild, { kind: 'done' }> => m.kind === 'done');
      return {
        recorder: LatencyRecorder.merged(finished.map((m) => m.window)),
        loads: finished.map((m) => m.load),
      };
    },
    close: async () => void (await stop()),
  };
}

/** The child's side: the scenario's clients, a pool of users per PoolName, and steps on demand. */
function serve(): void {
  let clients: ScenarioClients | undefined;
  const pools = new Map<PoolName, UserPool>();
  const reply = (m: FromChild): void => void process.send?.(m);
  const poolOf = (name: PoolName): UserPool => {
    let pool = pools.get(name);
    if (!pool) {
      const make = name === 'trellis' ? clients?.user : name === 'floor' ? clients?.floorUser : clients?.peerUser;
      if (!make) throw new Error(`this run has no ${name} users`);
      pool = new UserPool(make);
      pools.set(name, pool);
    }
    return pool;
  };
  const handle = async (m: ToChild): Promise<void> => {
    if (m.kind === 'init') {
      const scenario = scenarios[m.scenario];
      if (!scenario) throw new Error(`unknown scenario ${m.scenario}`);
      clients = await scenario.clients(m.target, m.shared);
      return reply({ kind: 'ok', id: m.id });
    }
    if (m.kind === 'take') {
      await poolOf(m.pool).take(m.indices);
      return reply({ kind: 'ok', id: m.id });
    }
    if (m.kind === 'run') {
      const users = await poolOf(m.pool).take(m.indices);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, m.startAt - Date.now())));
      const run = await runStep(users, {
        ...m.step,
        onProgress: (seconds, recorder) => reply({ kind: 'progress', id: m.id, seconds, window: recorder.snapshot() }),
      });
      return reply({ kind: 'done', id: m.id, window: run.recorder.snapshot(), load: run.load });
    }
    await Promise.allSettled([...pools.values()].map((p) => p.close()));
    await clients?.close();
    // Keep-alive sockets would hold the process open a while: it is done.
    process.send?.({ kind: 'ok', id: m.id } satisfies FromChild, () => process.exit(0));
  };
  // The harness gone (ended, killed): so is its generator, with its users' sockets.
  process.on('disconnect', () => process.exit(0));
  process.on('message', (m: ToChild) => {
    handle(m).catch((err: unknown) => reply({ kind: 'failed', id: m.id, message: errorMessage(err) }));
  });
}

if (process.argv[1] && import.meta.filename === process.argv[1]) serve();
