/**
 * `trellis bench <scenario>`: find how many virtual users the target holds within the latency and
 * error budget (stepping the load), then compare Trellis with the scenario's floor at full speed in
 * the same run.
 */
import type { Scenario } from './scenarios/index.js';
import { UserPool, runStep } from './runner.js';
import { errorRate, type LatencyRecorder, type OpSummary } from './stats.js';
import { capacity, nextUsers, type Budget, type SearchOptions, type StepResult } from './stepping.js';
import { machineDescription } from './provenance.js';
import type { Target } from './target.js';
import { activeUsers, type ActiveUsers, type UsageAssumptions } from './active-users.js';

export interface HarnessOptions {
  readonly budget: Budget;
  readonly search: SearchOptions;
  readonly stepSeconds: number;
  readonly warmupSeconds: number;
  /** Users of the full-speed comparison with the floor (no think time). */
  readonly saturationUsers: number;
  readonly saturationSeconds: number;
  /** How the capacity turns into daily and monthly active users. */
  readonly usage: { readonly assumptions: UsageAssumptions; readonly overridden: readonly (keyof UsageAssumptions)[] };
  /** A live line while a step runs (`final` once it ends). */
  readonly progress: (line: string, final: boolean) => void;
}

export interface StepReport extends StepResult {
  readonly p50: number;
  readonly p95: number;
  readonly errors: number;
  readonly holds: boolean;
  /** The server's CPU (100 = one core) and resident memory, when known (summed over instances). */
  readonly serverCpuPercent: number | undefined;
  readonly serverRssMb: number | undefined;
}

export interface RunSummary {
  readonly overall: OpSummary;
  readonly operations: readonly OpSummary[];
}

export interface BenchReport {
  readonly scenario: string;
  readonly description: string;
  /** The first URL (or the load balancer's); `targets` has them all. */
  readonly target: string;
  readonly targets: readonly string[];
  readonly instances: number;
  readonly machine: string;
  readonly date: string;
  readonly budget: Budget;
  readonly thinkMs: number;
  readonly steps: readonly StepReport[];
  readonly capacity: number;
  readonly statement: string;
  /** The capacity in users in session, daily and monthly active users, with its arithmetic. */
  readonly activeUsers: ActiveUsers;
  /** Per operation, at the largest load that held. */
  readonly atCapacity: readonly OpSummary[];
  readonly saturation: {
    readonly users: number;
    readonly trellis: RunSummary;
    readonly floor: RunSummary | undefined;
    readonly floorDescription: string;
    /** Trellis's throughput over the floor's. */
    readonly ratio: number | undefined;
    readonly peer: RunSummary | undefined;
    readonly peerDescription: string | undefined;
  };
}

const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : '–');

export async function runBench(scenario: Scenario, target: Target, options: HarnessOptions): Promise<BenchReport> {
  const prepared = await scenario.prepare(target);
  const users = new UserPool((i) => prepared.user(i));
  const floorUsers = prepared.floorUser ? new UserPool(prepared.floorUser) : undefined;
  const peerUsers = prepared.peerUser ? new UserPool(prepared.peerUser) : undefined;
  // A step shorter than two think times would measure each user once or not at all.
  const stepSeconds = Math.max(options.stepSeconds, (2 * scenario.thinkMs) / 1000);
  try {
    const steps: StepReport[] = [];
    const recorders = new Map<number, LatencyRecorder>();
    for (
      let n = nextUsers(steps, options.budget, options.search);
      n !== undefined;
      n = nextUsers(steps, options.budget, options.search)
    ) {
      const count = n;
      options.progress(`${scenario.name} · ${count} users · preparing`, false);
      const before = await target.sample();
      const startedAt = performance.now();
      const recorder = await runStep(users, {
        users: count,
        seconds: stepSeconds,
        warmupSeconds: options.warmupSeconds,
        thinkMs: scenario.thinkMs,
        onProgress: (t, r) => options.progress(liveLine(scenario.name, count, t, r.overall(t)), false),
      });
      const after = await target.sample();
      const wall = (performance.now() - startedAt) / 1000;
      const overall = recorder.overall(stepSeconds);
      const step: StepReport = {
        users: count,
        perSecond: overall.perSecond,
        p50: overall.p50,
        p95: overall.p95,
        p99: overall.p99,
        errors: overall.errors,
        errorRate: errorRate(overall),
        holds: false,
        serverCpuPercent: before && after ? ((after.cpuSeconds - before.cpuSeconds) / wall) * 100 : undefined,
        serverRssMb: after ? after.rssBytes / 2 ** 20 : undefined,
      };
      const held = capacity([step], options.budget) > 0;
      steps.push({ ...step, holds: held });
      recorders.set(count, recorder);
      options.progress(
        `${liveLine(scenario.name, count, stepSeconds, overall)} · ${held ? 'holds' : 'over budget'}`,
        true,
      );
    }
    const best = capacity(steps, options.budget);

    const saturate = async (pool: UserPool, label: string): Promise<RunSummary> => {
      const recorder = await runStep(pool, {
        users: options.saturationUsers,
        seconds: options.saturationSeconds,
        warmupSeconds: options.warmupSeconds,
        thinkMs: 0,
        onProgress: (t, r) =>
          options.progress(
            liveLine(`${scenario.name} at full speed, ${label}`, options.saturationUsers, t, r.overall(t)),
            false,
          ),
      });
      const summary = {
        overall: recorder.overall(options.saturationSeconds),
        operations: recorder.summary(options.saturationSeconds),
      };
      options.progress(
        liveLine(
          `${scenario.name} at full speed, ${label}`,
          options.saturationUsers,
          options.saturationSeconds,
          summary.overall,
        ),
        true,
      );
      return summary;
    };
    const trellis = await saturate(users, 'Trellis');
    const floor = floorUsers ? await saturate(floorUsers, 'floor') : undefined;
    const peer = peerUsers ? await saturate(peerUsers, 'peer') : undefined;

    const atCapacity = recorders.get(best)?.summary(stepSeconds) ?? [];
    const received = new Set(scenario.received ?? []);
    const calls = atCapacity.filter((o) => !received.has(o.op)).reduce((n, o) => n + o.perSecond, 0);
    return {
      scenario: scenario.name,
      description: scenario.description,
      target: target.url,
      targets: target.urls,
      instances: target.instances,
      machine: machineDescription(),
      date: new Date().toISOString(),
      budget: options.budget,
      thinkMs: scenario.thinkMs,
      steps,
      capacity: best,
      statement: capacityStatement(steps, best, scenario.users, options.budget, target),
      activeUsers: activeUsers(
        { virtualUsers: best, callsPerSecond: best > 0 ? calls : 0, atLeast: reachedCeiling(steps, best) },
        options.usage.assumptions,
        options.usage.overridden,
      ),
      atCapacity,
      saturation: {
        users: options.saturationUsers,
        trellis,
        floor,
        floorDescription: prepared.floorDescription,
        ratio: floor ? trellis.overall.perSecond / floor.overall.perSecond : undefined,
        peer,
        peerDescription: prepared.peerDescription,
      },
    };
  } finally {
    await Promise.allSettled([users.close(), floorUsers?.close(), peerUsers?.close(), prepared.close()]);
  }
}

/** The search stopped at its ceiling before the budget broke: the capacity is a lower bound. */
const reachedCeiling = (steps: readonly StepReport[], best: number) => !steps.some((s) => !s.holds && s.users > best);

/** The sentence the run ends with; "at least" when the search stopped before the budget broke. */
export function capacityStatement(
  steps: readonly StepReport[],
  best: number,
  users: string,
  budget: Budget,
  target: Pick<Target, 'subject' | 'instances'> = { subject: 'this machine', instances: 1 },
): string {
  if (best === 0)
    return `no load held p99 < ${budget.p99Ms} ms with at most ${(budget.maxErrorRate * 100).toFixed(1)} % errors`;
  const least = reachedCeiling(steps, best);
  const verb = target.instances > 1 ? 'sustain' : 'sustains';
  return `${target.subject} ${verb} ${least ? 'at least ' : ''}${best} concurrent ${users} at p99 < ${budget.p99Ms} ms${least ? ' (the search stopped at its ceiling before the budget broke)' : ''}`;
}

function liveLine(name: string, users: number, seconds: number, s: OpSummary): string {
  const first = s.firstError ? ` (first: ${s.firstError})` : '';
  return `${name} · ${users} users · ${seconds.toFixed(0)} s · ${fmt(s.perSecond)} ops/s · p99 ${fmt(s.p99)} ms · ${s.errors} errors${first}`;
}
