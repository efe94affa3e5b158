/**
 * `trellis bench <scenario>`: find how many virtual users the target holds within the latency and
 * error budget (stepping the load), then compare Trellis with the scenario's floor at full speed in
 * the same run.
 */
import type { Scenario } from './scenarios/index.js';
import { startGenerators, type Generators, type PoolName } from './generator.js';
import { errorRate, type LatencyRecorder, type OpSummary } from './stats.js';
import {
  broke,
  capacity,
  generatorLimit,
  nextConfirmation,
  nextUsers,
  type Budget,
  type ConfirmOptions,
  type GeneratorLimits,
  type GeneratorLoad,
  type SearchOptions,
  type StepResult,
} from './stepping.js';
import { machineDescription } from './provenance.js';
import { sampleProcess, type ProcessSample, type Target } from './target.js';
import { activeUsers, type ActiveUsers, type UsageAssumptions } from './active-users.js';

export interface HarnessOptions {
  readonly budget: Budget;
  readonly search: SearchOptions;
  /** The boundary repeated with longer steps; `maxSteps` 0 takes the search's figure. */
  readonly confirm: ConfirmOptions & { readonly seconds: number };
  readonly stepSeconds: number;
  readonly warmupSeconds: number;
  /** Load generators (child processes) the virtual users are spread over. */
  readonly generators: number;
  /** Past these, a generator could not drive its step, which then counts neither way. */
  readonly generatorLimits: GeneratorLimits;
  /** Before a step, wait at most this long for the server to finish the last one's backlog. */
  readonly settleSeconds: number;
  /** Users of the full-speed comparison with the floor (no think time). */
  readonly saturationUsers: number;
  readonly saturationSeconds: number;
  /** How the capacity turns into daily and monthly active users. */
  readonly usage: { readonly assumptions: UsageAssumptions; readonly overridden: readonly (keyof UsageAssumptions)[] };
  /** A live line while a step runs (`final` once it ends). */
  readonly progress: (line: string, final: boolean) => void;
}

export interface StepReport extends StepResult {
  /** A step of the search, or one of the longer steps that confirm its boundary. */
  readonly phase: 'search' | 'confirm';
  /** Its measured seconds. */
  readonly seconds: number;
  readonly p50: number;
  readonly p95: number;
  readonly errors: number;
  readonly holds: boolean;
  /** The Trellis process's CPU (100 = one core) and resident memory, when known (summed over instances). */
  readonly serverCpuPercent: number | undefined;
  readonly serverRssMb: number | undefined;
  /** PostgreSQL's CPU (postmaster and backends), when it runs on this machine and is known. */
  readonly databaseCpuPercent: number | undefined;
  /** Each load generator's own event-loop lag and CPU over the window. */
  readonly generators: readonly GeneratorLoad[];
  /** Why the generators could not drive the step (then it neither held nor broke). */
  readonly generatorLimit: string | undefined;
  /** Seconds waited before it for the server (Node.js and PostgreSQL) to go quiet. */
  readonly settledSeconds: number;
}

export interface RunSummary {
  readonly overall: OpSummary;
  readonly operations: readonly OpSummary[];
  /** The server's CPU over the run (Trellis's process, or the floor's), 100 = one core, when known. */
  readonly serverCpuPercent: number | undefined;
  /** PostgreSQL's, when it runs on this machine. */
  readonly databaseCpuPercent: number | undefined;
  /** The users' own calls a second (deliveries they received not counted). */
  readonly callsPerSecond: number;
  readonly generators: readonly GeneratorLoad[];
  /** Why the generators could not drive this run at full speed: its figures are the generators'. */
  readonly generatorLimit: string | undefined;
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
  readonly generators: number;
  readonly generatorLimits: GeneratorLimits;
  readonly steps: readonly StepReport[];
  /** The confirmed figure (the longer steps'), or the search's when confirmation is off. */
  readonly capacity: number;
  /** The search's own figure, before confirmation. */
  readonly searchCapacity: number;
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

/** CPU over a window, 100 = one core. */
const cpuPercent = (before: number | undefined, after: number | undefined, wallSeconds: number) =>
  before === undefined || after === undefined ? undefined : ((after - before) / wallSeconds) * 100;

export async function runBench(scenario: Scenario, target: Target, options: HarnessOptions): Promise<BenchReport> {
  const prepared = await scenario.prepare(target);
  let generators: Generators | undefined;
  // A step shorter than two think times would measure each user once or not at all.
  const stepSeconds = Math.max(options.stepSeconds, (2 * scenario.thinkMs) / 1000);
  const confirmSeconds = Math.max(options.confirm.seconds, stepSeconds);
  try {
    const { url, urls, instances, anonKey, serviceRoleKey, jwtSecret, dbUrl } = target;
    const clientTarget = { url, urls, instances, anonKey, serviceRoleKey, jwtSecret, dbUrl };
    options.progress(`${scenario.name} · starting ${options.generators} load generators`, false);
    const gens = await startGenerators(options.generators, scenario.name, clientTarget, prepared.shared);
    generators = gens;
    const received = new Set(scenario.received ?? []);
    const steps: StepReport[] = [];
    const recorders = new Map<string, { recorder: LatencyRecorder; seconds: number }>();

    const runLoad = async (count: number, seconds: number, phase: StepReport['phase']): Promise<StepReport> => {
      const label = `${scenario.name}${phase === 'confirm' ? ' (confirming)' : ''}`;
      options.progress(`${label} · ${count} users · waiting for the server to go quiet`, false);
      // Only a step that broke or could not be driven leaves a backlog worth waiting for.
      const last = steps.at(-1);
      const settledSeconds = last && !last.holds ? await settle(target, options.settleSeconds) : 0;
      options.progress(`${label} · ${count} users · preparing`, false);
      let before: ProcessSample | undefined;
      let startedAt = performance.now();
      // The server is sampled as the generators start measuring (after the warm-up).
      let measuring = false;
      const run = await gens.step(
        'trellis',
        { users: count, seconds, warmupSeconds: options.warmupSeconds, thinkMs: scenario.thinkMs },
        (t, r) => {
          if (!measuring) {
            measuring = true;
            startedAt = performance.now();
            void target.sample().then((s) => (before = s));
          }
          options.progress(liveLine(label, count, t, r.overall(t)), false);
        },
      );
      const after = await target.sample();
      const wall = (performance.now() - startedAt) / 1000;
      const overall = run.recorder.overall(seconds);
      const limit = generatorLimit(run.loads, options.generatorLimits);
      const step: StepReport = {
        phase,
        seconds,
        users: count,
        perSecond: overall.perSecond,
        p50: overall.p50,
        p95: overall.p95,
        p99: overall.p99,
        errors: overall.errors,
        errorRate: errorRate(overall),
        generatorLimited: limit !== undefined,
        holds: false,
        serverCpuPercent: measuring ? cpuPercent(before?.cpuSeconds, after?.cpuSeconds, wall) : undefined,
        serverRssMb: after ? after.rssBytes / 2 ** 20 : undefined,
        databaseCpuPercent: measuring
          ? cpuPercent(before?.databaseCpuSeconds, after?.databaseCpuSeconds, wall)
          : undefined,
        generators: run.loads,
        generatorLimit: limit,
        settledSeconds,
      };
      const held = capacity([step], options.budget) > 0;
      recorders.set(`${phase}:${count}`, { recorder: run.recorder, seconds });
      const verdict = limit ? `generator-limited (${limit})` : held ? 'holds' : 'over budget';
      options.progress(`${liveLine(label, count, seconds, overall)} · ${generatorLine(run.loads)} · ${verdict}`, true);
      return { ...step, holds: held };
    };

    const search = () => steps.filter((s) => s.phase === 'search');
    const confirmations = () => steps.filter((s) => s.phase === 'confirm');
    for (
      let n = nextUsers(search(), options.budget, options.search);
      n !== undefined;
      n = nextUsers(search(), options.budget, options.search)
    )
      steps.push(await runLoad(n, stepSeconds, 'search'));
    for (
      let n = nextConfirmation(search(), confirmations(), options.budget, options.confirm);
      n !== undefined;
      n = nextConfirmation(search(), confirmations(), options.budget, options.confirm)
    )
      steps.push(await runLoad(n, confirmSeconds, 'confirm'));
    const searchBest = capacity(search(), options.budget);
    const confirmed = options.confirm.maxSteps > 0 && confirmations().length > 0;
    const best = confirmed ? capacity(confirmations(), options.budget) : searchBest;

    /** The server of a pool (Trellis, or the floor's process) and PostgreSQL, sampled together. */
    const sampleServer = async (pool: PoolName) => {
      const trellisSample = await target.sample();
      const pid = pool === 'floor' ? prepared.floorPid : pool === 'peer' ? prepared.peerPid : undefined;
      if (pool === 'trellis') return trellisSample;
      const own = pid === undefined ? undefined : await sampleProcess(pid);
      return own && { ...own, databaseCpuSeconds: trellisSample?.databaseCpuSeconds };
    };
    const saturate = async (pool: PoolName, label: string): Promise<RunSummary> => {
      const name = `${scenario.name} at full speed, ${label}`;
      // Trellis still decoding the last run's WAL would slow the floor that follows it.
      options.progress(`${name} · waiting for the server to go quiet`, false);
      await settle(target, options.settleSeconds);
      let before: ProcessSample | undefined;
      let startedAt = performance.now();
      let measuring = false;
      const run = await gens.step(
        pool,
        {
          users: options.saturationUsers,
          seconds: options.saturationSeconds,
          warmupSeconds: options.warmupSeconds,
          thinkMs: 0,
        },
        (t, r) => {
          if (!measuring) {
            measuring = true;
            startedAt = performance.now();
            void sampleServer(pool).then((s) => (before = s));
          }
          options.progress(liveLine(name, options.saturationUsers, t, r.overall(t)), false);
        },
      );
      const after = await sampleServer(pool);
      const wall = (performance.now() - startedAt) / 1000;
      const operations = run.recorder.summary(options.saturationSeconds);
      const summary: RunSummary = {
        overall: run.recorder.overall(options.saturationSeconds),
        operations,
        callsPerSecond: operations.filter((o) => !received.has(o.op)).reduce((n, o) => n + o.perSecond, 0),
        serverCpuPercent: measuring ? cpuPercent(before?.cpuSeconds, after?.cpuSeconds, wall) : undefined,
        databaseCpuPercent: measuring
          ? cpuPercent(before?.databaseCpuSeconds, after?.databaseCpuSeconds, wall)
          : undefined,
        generators: run.loads,
        generatorLimit: generatorLimit(run.loads, options.generatorLimits),
      };
      options.progress(
        `${liveLine(name, options.saturationUsers, options.saturationSeconds, summary.overall)} · ${generatorLine(run.loads)}`,
        true,
      );
      return summary;
    };
    const trellis = await saturate('trellis', 'Trellis');
    const floor = prepared.hasFloor ? await saturate('floor', 'floor') : undefined;
    const peer = prepared.hasPeer ? await saturate('peer', 'peer') : undefined;

    const atBest = recorders.get(`${confirmed ? 'confirm' : 'search'}:${best}`);
    const atCapacity = atBest?.recorder.summary(atBest.seconds) ?? [];
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
      generators: gens.count,
      generatorLimits: options.generatorLimits,
      steps,
      capacity: best,
      searchCapacity: searchBest,
      statement: capacityStatement(steps, best, scenario.users, options.budget, target),
      activeUsers: activeUsers(
        {
          virtualUsers: best,
          callsPerSecond: best > 0 ? calls : 0,
          atLeast: reachedCeiling(steps, best, options.budget),
        },
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
    await Promise.allSettled([generators?.close(), prepared.close()]);
  }
}

/** Below this (Node.js and PostgreSQL together, 100 = one core) the server is quiet. */
const QUIET_PERCENT = 20;

/**
 * Waits (at most `maxSeconds`) until the server's and PostgreSQL's CPU over half a second is below
 * QUIET_PERCENT: a step right after one that overloaded the server would otherwise pay for its
 * backlog (queued requests, WAL still being decoded) and break where it would hold. Returns the
 * seconds waited; at once when the server's CPU cannot be read.
 */
async function settle(target: Pick<Target, 'sample'>, maxSeconds: number): Promise<number> {
  const started = performance.now();
  const cpu = (s: ProcessSample | undefined) => (s ? s.cpuSeconds + (s.databaseCpuSeconds ?? 0) : undefined);
  const waited = () => (performance.now() - started) / 1000;
  let before = cpu(await target.sample());
  let at = performance.now();
  while (before !== undefined && waited() < maxSeconds) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    const after = cpu(await target.sample());
    const now = performance.now();
    if (after === undefined || ((after - before) / ((now - at) / 1000)) * 100 < QUIET_PERCENT) break;
    [before, at] = [after, now];
  }
  return before === undefined ? 0 : waited();
}

/** Nothing broke the budget above the capacity: it is a lower bound (the ceiling, or the generators' limit). */
const reachedCeiling = (steps: readonly StepResult[], best: number, budget: Budget) =>
  !steps.some((s) => broke(s, budget) && s.users > best);

/**
 * The sentence the run ends with; "at least" when nothing broke the budget above the capacity,
 * saying why: the search's ceiling, or the load generators' limit.
 */
export function capacityStatement(
  steps: readonly StepReport[],
  best: number,
  users: string,
  budget: Budget,
  target: Pick<Target, 'subject' | 'instances'> = { subject: 'this machine', instances: 1 },
): string {
  if (best === 0) {
    const limited = steps.filter((s) => s.generatorLimited === true);
    const searched = capacity(
      steps.filter((s) => s.phase === 'search'),
      budget,
    );
    const longer = steps.find((s) => s.phase === 'confirm');
    const undrivable = steps.filter((s) => s.phase === 'confirm').every((s) => s.generatorLimited === true);
    if (searched > 0 && longer && undrivable)
      return `no load was confirmed: the load generators could not drive the ${longer.seconds}-second repeats (the search's ${searched} users held in its shorter step)`;
    const why =
      searched > 0 && longer
        ? ` when repeated for ${longer.seconds} s (the search's ${searched} users held in its shorter step)`
        : limited.length
          ? ` (the load generators could not drive ${Math.min(...limited.map((s) => s.users))} users)`
          : '';
    return `no load held p99 < ${budget.p99Ms} ms with at most ${(budget.maxErrorRate * 100).toFixed(1)} % errors${why}`;
  }
  const least = reachedCeiling(steps, best, budget);
  const verb = target.instances > 1 ? 'sustain' : 'sustains';
  // Why nothing above it broke: the generators could not drive a larger load (in no step of it),
  // or the search's step at it (which a longer one then held), or the search stopped.
  const undriven = (users: number, among: readonly StepReport[]) =>
    among.some((s) => s.users === users && s.generatorLimited === true) &&
    !among.some((s) => s.users === users && s.generatorLimited !== true);
  const above = steps.filter((s) => s.users > best && undriven(s.users, steps)).map((s) => s.users);
  const why = above.length
    ? ` (the load generators could not drive ${Math.min(...above)} users)`
    : undriven(
          best,
          steps.filter((s) => s.phase === 'search'),
        )
      ? ` (the search went no higher: the load generators could not drive ${best} users in its shorter step)`
      : ' (the search stopped before the budget broke)';
  const confirm = steps.find((s) => s.phase === 'confirm' && s.users === best && s.holds);
  const confirmed = confirm ? `, confirmed by a ${confirm.seconds}-second step` : '';
  return `${target.subject} ${verb} ${least ? 'at least ' : ''}${best} concurrent ${users} at p99 < ${budget.p99Ms} ms${confirmed}${least ? why : ''}`;
}

/** Each generator's lag p99 and CPU, for a progress line. */
function generatorLine(loads: readonly GeneratorLoad[]): string {
  return `generators ${loads.map((g) => `lag p99 ${fmt(g.lagP99Ms)} ms, CPU ${g.cpuPercent.toFixed(0)} %`).join(' / ')}`;
}

function liveLine(name: string, users: number, seconds: number, s: OpSummary): string {
  const first = s.firstError ? ` (first: ${s.firstError})` : '';
  return `${name} · ${users} users · ${seconds.toFixed(0)} s · ${fmt(s.perSecond)} ops/s · p99 ${fmt(s.p99)} ms · ${s.errors} errors${first}`;
}
