/**
 * The capacity search: raise the number of virtual users until the latency or error budget
 * breaks, then narrow down between the last load that held and the first that did not; then
 * confirm that boundary with repeated, longer steps. A step the load generators could not drive
 * (their event loops lagging or their CPU spent) is neither held nor broken: the search treats it
 * as a ceiling it cannot measure past. Pure: the runner feeds it each step's result and runs
 * whatever load it names next.
 */

export interface Budget {
  /** p99 latency over all operations must stay under this (ms). */
  readonly p99Ms: number;
  /** Errors over attempts must stay at or under this share. */
  readonly maxErrorRate: number;
}

export interface StepResult {
  readonly users: number;
  readonly p99: number;
  readonly errorRate: number;
  readonly perSecond: number;
  /** The load generators could not drive this step: it neither holds nor breaks the budget. */
  readonly generatorLimited?: boolean;
}

export interface SearchOptions {
  readonly startUsers: number;
  readonly maxUsers: number;
  /** Stop narrowing once the gap between held and broken is within this share of the held load. */
  readonly resolution: number;
  readonly maxSteps: number;
}

export function holds(step: StepResult, budget: Budget): boolean {
  return (
    step.generatorLimited !== true &&
    Number.isFinite(step.p99) &&
    step.p99 < budget.p99Ms &&
    step.errorRate <= budget.maxErrorRate
  );
}

/** The step was driven and broke the budget (a generator-limited step is not a failure). */
export function broke(step: StepResult, budget: Budget): boolean {
  return step.generatorLimited !== true && !holds(step, budget);
}

/**
 * A step the generators could not drive is run once more before it counts as a ceiling: a pause
 * of the machine (another job on the same cores) passes, generators out of CPU do not.
 */
export const LIMITED_RETRIES = 1;

/** The load to run again: the last step's, when the generators could not drive it and it was not retried enough. */
function retryOf(history: readonly StepResult[]): number | undefined {
  const last = history.at(-1);
  if (last?.generatorLimited !== true) return undefined;
  const same = history.filter((s) => s.users === last.users);
  return same.every((s) => s.generatorLimited === true) && same.length <= LIMITED_RETRIES ? last.users : undefined;
}

/** The users to run next, or undefined when the search is over. */
export function nextUsers(history: readonly StepResult[], budget: Budget, options: SearchOptions): number | undefined {
  if (history.length >= options.maxSteps) return undefined;
  if (history.length === 0) return Math.min(options.startUsers, options.maxUsers);
  const again = retryOf(history);
  if (again !== undefined) return again;
  const held = history.filter((s) => holds(s, budget)).map((s) => s.users);
  const broke = history.filter((s) => !holds(s, budget)).map((s) => s.users);
  const best = held.length ? Math.max(...held) : 0;
  const worst = broke.length ? Math.min(...broke.filter((u) => u > best).concat(Infinity)) : Infinity;
  if (worst === Infinity) {
    // Nothing broke yet: double, up to the ceiling.
    if (best >= options.maxUsers) return undefined;
    return Math.min(best * 2, options.maxUsers);
  }
  if (best === 0) {
    // Even the first load broke: halve towards one user.
    const lowest = Math.min(...broke);
    return lowest > 1 ? Math.max(1, Math.floor(lowest / 2)) : undefined;
  }
  if (worst - best <= Math.max(1, best * options.resolution)) return undefined;
  return Math.floor((best + worst) / 2);
}

/** The most users any step held within budget; 0 when none did. */
export function capacity(history: readonly StepResult[], budget: Budget): number {
  return Math.max(0, ...history.filter((s) => holds(s, budget)).map((s) => s.users));
}

export interface ConfirmOptions {
  /** Longer steps run at most this many times; 0 takes the search's figure unconfirmed. */
  readonly maxSteps: number;
  /** As the search's: stop once held and broken are this close. */
  readonly resolution: number;
}

/**
 * The next load to repeat with a longer step, or undefined when the boundary is confirmed. Only
 * the longer steps (`confirmations`) decide; the search's steps say where to look. First the last
 * load that held; if it holds again, the first that broke above it; if that broke again, the
 * boundary stands (or is narrowed while the two are further apart than the resolution). If the last
 * that held breaks when repeated, the next lower load that held in the search, else half.
 */
export function nextConfirmation(
  search: readonly StepResult[],
  confirmations: readonly StepResult[],
  budget: Budget,
  options: ConfirmOptions,
): number | undefined {
  if (confirmations.length >= options.maxSteps) return undefined;
  const again = retryOf(confirmations);
  if (again !== undefined) return again;
  const ran = new Set(confirmations.map((s) => s.users));
  const held = confirmations.filter((s) => holds(s, budget)).map((s) => s.users);
  const lo = held.length ? Math.max(...held) : undefined;
  const above = confirmations.filter((s) => !holds(s, budget) && (lo === undefined || s.users > lo));
  const hi = above.length ? Math.min(...above.map((s) => s.users)) : undefined;
  const searched = (pick: (s: StepResult) => boolean) => search.filter((s) => pick(s) && !ran.has(s.users));
  if (lo === undefined) {
    if (hi === undefined) {
      const best = capacity(search, budget);
      return best > 0 ? best : undefined;
    }
    const lower = searched((s) => holds(s, budget) && s.users < hi).map((s) => s.users);
    if (lower.length) return Math.max(...lower);
    return hi > 1 ? Math.floor(hi / 2) : undefined;
  }
  if (hi === undefined) {
    const higher = searched((s) => !holds(s, budget) && s.users > lo).map((s) => s.users);
    return higher.length ? Math.min(...higher) : undefined;
  }
  if (hi - lo <= Math.max(1, lo * options.resolution)) return undefined;
  return Math.floor((lo + hi) / 2);
}

/** What the generators measured of themselves over a step's window. */
export interface GeneratorLoad {
  /** Event-loop delay beyond the sampling interval, p99 and worst (ms). */
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  /** CPU (user + system) over the window, 100 = one core. */
  readonly cpuPercent: number;
}

export interface GeneratorLimits {
  readonly lagP99Ms: number;
  readonly cpuPercent: number;
}

export const GENERATOR_LIMITS: GeneratorLimits = Object.freeze({ lagP99Ms: 20, cpuPercent: 80 });

/**
 * Why the generators could not drive a step, or undefined when they could: one whose event loop
 * lagged (its timers and sockets were served late, so its latencies include its own queueing) or
 * whose CPU was near a core's (it was about to lag) measured itself, not the target.
 */
export function generatorLimit(
  loads: readonly GeneratorLoad[],
  limits: GeneratorLimits = GENERATOR_LIMITS,
): string | undefined {
  const reasons = loads.flatMap((g, i) => [
    ...(g.lagP99Ms > limits.lagP99Ms
      ? [`generator ${i + 1}'s event-loop lag p99 ${g.lagP99Ms.toFixed(1)} ms > ${limits.lagP99Ms} ms`]
      : []),
    ...(g.cpuPercent > limits.cpuPercent
      ? [`generator ${i + 1}'s CPU ${g.cpuPercent.toFixed(1)} % > ${limits.cpuPercent} % of a core`]
      : []),
  ]);
  return reasons.length ? reasons.join('; ') : undefined;
}
