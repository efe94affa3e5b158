/**
 * The capacity statement in the seeds' terms: from the calls a second the benchmark's virtual users
 * made within budget to users in session at the busiest hour, daily and monthly active users, under
 * stated assumptions. Pure, so the arithmetic is tested by tables and printed step by step.
 *
 * A virtual user calls about once a second (its think time); a seed's user in session calls far
 * less often (seed 004: 20 calls a session). What the server pays for is calls, so the measured
 * calls a second are divided by one real user's rate, then spread over the day by the share of the
 * day's users in session at the peak.
 */

export interface UsageAssumptions {
  /** Sessions a daily active user opens a day (seed 004: 3). */
  readonly sessionsPerDay: number;
  /** Minutes a session lasts (no seed says; Trellis assumes 10). */
  readonly sessionMinutes: number;
  /** API calls a session makes (seed 004: 20). */
  readonly callsPerSession: number;
  /** The busiest hour's sessions over an average hour's (no seed says; Trellis assumes 3). */
  readonly peakFactor: number;
  /** Daily over monthly active users (seed 004: 5,000 a day of 20,000 a month). */
  readonly dauPerMau: number;
}

/** The defaults and where each comes from (docs/cli.md cites the seeds' lines). */
export const SEED_ASSUMPTIONS: UsageAssumptions = Object.freeze({
  sessionsPerDay: 3,
  sessionMinutes: 10,
  callsPerSession: 20,
  peakFactor: 3,
  dauPerMau: 0.25,
});

export const ASSUMPTION_SOURCES: Readonly<Record<keyof UsageAssumptions, string>> = Object.freeze({
  sessionsPerDay: 'seed 004',
  sessionMinutes: "Trellis's assumption, no seed says",
  callsPerSession: 'seed 004',
  peakFactor: "Trellis's assumption, no seed says",
  dauPerMau: 'seed 004: 5,000 DAU of 20,000 MAU',
});

export interface MeasuredLoad {
  /** Virtual users of the largest step within budget. */
  readonly virtualUsers: number;
  /** Their own calls a second in that step (deliveries they received not counted). */
  readonly callsPerSecond: number;
  /** The search stopped at its ceiling: the figures are lower bounds. */
  readonly atLeast: boolean;
}

export interface ActiveUsers {
  readonly assumptions: UsageAssumptions;
  /** Which assumptions were given as flags rather than taken from the defaults. */
  readonly overridden: readonly (keyof UsageAssumptions)[];
  readonly measured: MeasuredLoad;
  /** One user's calls a second while in session. */
  readonly callsPerSecondInSession: number;
  /** The share of the day's users in session during the busiest hour. */
  readonly peakShareInSession: number;
  /** Users in session at the busiest hour the measured calls would serve. */
  readonly concurrent: number;
  readonly daily: number;
  readonly monthly: number;
  /** The sentence printed after the capacity statement. */
  readonly statement: string;
  /** The computation, one line a step, with the assumptions and their sources. */
  readonly arithmetic: readonly string[];
}

const MINUTES_A_DAY = 1440;

/** Why a set of assumptions cannot describe a day, or undefined when it can. */
export function assumptionsProblem(a: UsageAssumptions): string | undefined {
  if (a.peakFactor < 1)
    return `the peak factor is the busiest hour over an average one: at least 1 (got ${a.peakFactor})`;
  if (a.dauPerMau > 1)
    return `daily active users cannot outnumber monthly ones: DAU/MAU at most 1 (got ${a.dauPerMau})`;
  const minutes = a.sessionsPerDay * a.sessionMinutes;
  if (minutes > MINUTES_A_DAY)
    return `${a.sessionsPerDay} sessions a day of ${a.sessionMinutes} minutes is ${minutes} minutes, more than a day`;
  if (minutes * a.peakFactor > MINUTES_A_DAY)
    return `${a.sessionsPerDay} sessions × ${a.sessionMinutes} minutes × peak factor ${a.peakFactor} puts more than every daily user in session at the peak (at most ${MINUTES_A_DAY} minutes)`;
  return undefined;
}

const count = (n: number) => Math.floor(n).toLocaleString('en-US');
const decimal = (n: number) =>
  n >= 100 ? count(n) : n >= 1 ? n.toFixed(1) : n.toPrecision(2).replace(/0+$/, '').replace(/\.$/, '');
/** Two significant figures, rounded down: the statement does not claim more precision than it has. */
export function roughly(n: number): string {
  if (!(n >= 1)) return '0';
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(n)) - 1);
  return count(Math.floor(n / unit) * unit);
}

export function activeUsers(
  measured: MeasuredLoad,
  assumptions: UsageAssumptions = SEED_ASSUMPTIONS,
  overridden: readonly (keyof UsageAssumptions)[] = [],
): ActiveUsers {
  const a = assumptions;
  const source = (k: keyof UsageAssumptions) => (overridden.includes(k) ? 'given' : ASSUMPTION_SOURCES[k]);
  const perUser = a.callsPerSession / (a.sessionMinutes * 60);
  const peakShare = (a.sessionsPerDay * a.sessionMinutes * a.peakFactor) / MINUTES_A_DAY;
  // Multiplied out rather than divided by the rounded rates, so whole results stay whole.
  const concurrent = Math.floor((measured.callsPerSecond * a.sessionMinutes * 60) / a.callsPerSession);
  const daily = Math.floor((concurrent * MINUTES_A_DAY) / (a.sessionsPerDay * a.sessionMinutes * a.peakFactor));
  // 1e-9: a ratio such as 0.3 is not exact in binary, and 3 ÷ 0.3 must stay 10.
  const monthly = Math.floor(daily / a.dauPerMau + 1e-9);
  const least = measured.atLeast ? 'at least ' : '';
  const statement =
    measured.virtualUsers === 0
      ? "in the seeds' terms: no load held, so no users"
      : `in the seeds' terms: ${least}${roughly(concurrent)} users in session at the busiest hour, ${roughly(daily)} daily and ${roughly(monthly)} monthly active users`;
  const share = `${Number((peakShare * 100).toFixed(2))} %`;
  const everySeconds = measured.virtualUsers / measured.callsPerSecond;
  const arithmetic = [
    `${count(measured.virtualUsers)} virtual users made ${decimal(measured.callsPerSecond)} calls/s within budget${Number.isFinite(everySeconds) ? ` (one call every ${everySeconds.toFixed(1)} s each)` : ''}`,
    `a user in session makes ${a.callsPerSession} calls (${source('callsPerSession')}) in ${a.sessionMinutes} min (${source('sessionMinutes')}): ${decimal(perUser)} calls/s`,
    `${decimal(measured.callsPerSecond)} ÷ ${decimal(perUser)} = ${count(concurrent)} users in session at the busiest hour`,
    `${a.sessionsPerDay} sessions a day (${source('sessionsPerDay')}) × ${a.sessionMinutes} min ÷ ${MINUTES_A_DAY} min × peak factor ${a.peakFactor} (${source('peakFactor')}) = ${share} of the day's users in session then`,
    `${count(concurrent)} ÷ ${share} = ${count(daily)} daily active users`,
    `${count(daily)} ÷ DAU/MAU ${a.dauPerMau} (${source('dauPerMau')}) = ${count(monthly)} monthly active users`,
  ];
  if (concurrent > measured.virtualUsers)
    arithmetic.push(
      `the run held ${count(measured.virtualUsers)} clients at once, not ${count(concurrent)}: the conversion assumes the calls, not idle connections, are the cost`,
    );
  return {
    assumptions: a,
    overridden,
    measured,
    callsPerSecondInSession: perUser,
    peakShareInSession: peakShare,
    concurrent,
    daily,
    monthly,
    statement,
    arithmetic,
  };
}
