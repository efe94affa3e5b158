/**
 * The capacity search: raise the number of virtual users until the latency or error budget
 * breaks, then narrow down between the last load that held and the first that did not. Pure: the
 * runner feeds it each step's result and runs whatever load it names next.
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
}

export interface SearchOptions {
  readonly startUsers: number;
  readonly maxUsers: number;
  /** Stop narrowing once the gap between held and broken is within this share of the held load. */
  readonly resolution: number;
  readonly maxSteps: number;
}

export function holds(step: StepResult, budget: Budget): boolean {
  return Number.isFinite(step.p99) && step.p99 < budget.p99Ms && step.errorRate <= budget.maxErrorRate;
}

/** The users to run next, or undefined when the search is over. */
export function nextUsers(history: readonly StepResult[], budget: Budget, options: SearchOptions): number | undefined {
  if (history.length >= options.maxSteps) return undefined;
  if (history.length === 0) return Math.min(options.startUsers, options.maxUsers);
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
