/**
 * The scheduler every instance runs: each second it reads the active jobs of cron.job (one small
 * query; a change is seen within a second, with no trigger to keep), works out which have a tick in
 * the second just begun, and tries to claim and run each (run.ts). Ticks are epoch seconds computed
 * the same way everywhere, so two instances claim the same (jobid, tick) and one wins. A job still
 * running here is not started again; one running elsewhere is refused by the claim.
 */
import { Counter, type Registry } from 'prom-client';
import { type Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../platform/logger.js';
import { createRunLogins } from './logins.js';
import { runTick, type RunOutcome } from './run.js';
import { parseSchedule, tickerOf, type Ticker } from './schedule.js';

export interface CronOptions {
  readonly db: Db;
  /** The server login's connection string (a superuser's jobs run on it; owners' logins are made from it). */
  readonly url: string;
  readonly log: Logger;
  /** statement_timeout of each command, in seconds (0: none). */
  readonly jobTimeoutS: number;
  /** Runs older than this many days are deleted from cron.job_run_details (0: kept). */
  readonly retentionDays: number;
  readonly connectTimeoutMs?: number;
  /** The clock (ms), for tests. */
  readonly now?: () => number;
  /** Where trellis_cron_ticks_total goes (/metrics). */
  readonly registry?: Registry;
  /** Called after each run this instance made (tests). */
  readonly onRun?: (jobid: string, tickS: number, outcome: RunOutcome) => void;
}

export interface CronScheduler {
  /** Resolves once the first pass decided whether this database's cron schema is Trellis's. */
  readonly ready: Promise<boolean>;
  close(): Promise<void>;
}

// How far back a late pass looks for a tick it missed (an event loop stall): one tick, at most a minute old.
const CATCH_UP_S = 60;
const SWEEP_EVERY_S = 60;
// Runs at once in one instance, as pg_cron's cron.max_running_jobs default: each holds a connection.
const MAX_RUNNING = 32;

interface JobRow {
  readonly jobid: string;
  readonly schedule: string;
}

export function startCronScheduler(options: CronOptions): CronScheduler {
  const { db, log } = options;
  const now = options.now ?? Date.now;
  const logins = createRunLogins(db, options.url, (reason) =>
    log.warn(
      { err: reason },
      'cron: the database user may not create a login for a job owner: its command runs after `set role` on the server login, which it could undo',
    ),
  );
  const ticks = new Counter({
    name: 'trellis_cron_ticks_total',
    help: 'Cron job ticks this instance saw, by outcome: succeeded or failed (it ran them), not_claimed (another instance did, or the job runs elsewhere), running_here (its previous run had not ended), full (32 runs under way here).',
    labelNames: ['outcome'] as const,
    registers: options.registry ? [options.registry] : [],
  });
  const tickers = new Map<string, { schedule: string; ticker?: Ticker }>();
  const running = new Map<string, Promise<void>>();
  const backends = new Set<number>();
  let lastS = Math.floor(now() / 1000) - 1;
  let lastSweepS = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let pass: Promise<void> = Promise.resolve();

  const tickerFor = (job: JobRow): Ticker | undefined => {
    let known = tickers.get(job.jobid);
    if (!known || known.schedule !== job.schedule) {
      const parsed = parseSchedule(job.schedule);
      // The SQL check refuses bad schedules; one that got past it (an older row) is logged once.
      if (!parsed.ok) log.warn({ jobid: job.jobid }, `cron job ${job.jobid}: ${parsed.problem}; not run`);
      known = { schedule: job.schedule, ticker: parsed.ok ? tickerOf(parsed.schedule) : undefined };
      tickers.set(job.jobid, known);
    }
    return known.ticker;
  };

  const start = (jobid: string, tickS: number) => {
    let pid: number | undefined;
    const work = runTick(jobid, tickS, {
      db,
      logins,
      timeoutMs: options.jobTimeoutS * 1000,
      connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
      onBackend: (p) => {
        pid = p;
        backends.add(p);
      },
    })
      .then((outcome) => {
        ticks.inc({ outcome: outcome.ran ? outcome.status : 'not_claimed' });
        if (outcome.ran && outcome.status === 'failed')
          log.info({ jobid, runid: outcome.runid }, `cron job ${jobid} failed: ${outcome.message}`);
        options.onRun?.(jobid, tickS, outcome);
      })
      .catch((err: unknown) => log.warn({ jobid }, `cron job ${jobid}: ${errorMessage(err)}`))
      .finally(() => {
        running.delete(jobid);
        if (pid !== undefined) backends.delete(pid);
      });
    running.set(jobid, work);
  };

  const sweep = async () => {
    // Runs whose instance died: live backends are the running ones; the rest are over.
    await db.query(
      `update cron.job_run_details set status = 'failed', end_time = now(),
              return_message = 'the server running the job stopped before it finished'
        where status in ('starting', 'running')
          and case when job_pid is null then start_time < now() - interval '1 minute'
                   else not exists (select 1 from pg_stat_activity a where a.pid = job_pid) end`,
    );
    if (options.retentionDays > 0)
      await db.query(`delete from cron.job_run_details where start_time < now() - make_interval(days => $1)`, [
        options.retentionDays,
      ]);
  };

  const onePass = async () => {
    const nowS = Math.floor(now() / 1000);
    const afterS = Math.max(lastS, nowS - CATCH_UP_S);
    const { rows } = await db.query<JobRow>('select jobid::text, schedule from cron.job where active');
    // Only a pass that read the jobs moves on: after a short outage the latest tick missed still runs.
    lastS = nowS;
    const seen = new Set<string>();
    let full = 0;
    for (const job of rows) {
      seen.add(job.jobid);
      const tick = tickerFor(job)?.latest(afterS, nowS);
      if (tick === undefined) continue;
      if (running.has(job.jobid)) ticks.inc({ outcome: 'running_here' });
      // Left unclaimed: another instance with room may take it.
      else if (running.size >= MAX_RUNNING) {
        full++;
        ticks.inc({ outcome: 'full' });
      } else start(job.jobid, tick);
    }
    if (full > 0) log.warn(`cron: ${MAX_RUNNING} jobs already running here; ${full} due now left to other instances`);
    for (const jobid of tickers.keys()) if (!seen.has(jobid)) tickers.delete(jobid);
    if (nowS - lastSweepS >= SWEEP_EVERY_S) {
      lastSweepS = nowS;
      await sweep();
    }
  };

  // Whether the cron schema is Trellis's, decided by the first pass that reaches the database.
  let decide: (ours: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (decide = resolve));
  let ours: boolean | undefined;
  // An outage fails every pass: said once when it starts and once when it ends, not every second.
  let failing = false;

  const guardedPass = async () => {
    try {
      if (ours === undefined) {
        const problem = await ownsCronSchema(db);
        ours = problem === undefined;
        if (problem) log.warn(`cron: ${problem}; Trellis runs no cron scheduler (docs/cron.md)`);
        decide(ours);
        // Ticks that came while the database was out of reach are not made up.
        lastS = Math.floor(now() / 1000) - 1;
      }
      if (ours) await onePass();
      if (failing) log.info('cron: the scheduler reaches the database again');
      failing = false;
    } catch (err) {
      if (!failing) log.warn(`cron: a pass failed, retrying each second: ${errorMessage(err)}`);
      failing = true;
    }
  };

  const schedule = () => {
    if (stopped || ours === false) return;
    // Just after the next second begins, so every instance looks at a second that has started.
    const wait = 1000 - (now() % 1000) + 5;
    timer = setTimeout(() => {
      pass = guardedPass();
      void pass.then(schedule);
    }, wait);
  };
  schedule();

  return {
    ready,
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      decide(false);
      await pass;
      // A command under way is cancelled (it records as failed) rather than holding the stop.
      await Promise.all(
        [...backends].map((pid) => db.query('select pg_cancel_backend($1)', [pid]).catch(() => undefined)),
      );
      await Promise.all(running.values());
    },
  };
}

/** Undefined when cron is Trellis's own (made by src/sql/0120_cron.sql), else why not. */
async function ownsCronSchema(db: Db): Promise<string | undefined> {
  const { rows } = await db.query<{ comment: string | null; extension: boolean }>(
    `select obj_description(n.oid, 'pg_namespace') as comment,
            exists (select 1 from pg_extension where extname = 'pg_cron') as extension
       from pg_namespace n where n.nspname = 'cron'`,
  );
  const row = rows[0];
  if (!row) return 'there is no cron schema';
  if (row.extension) return 'the pg_cron extension owns the cron schema';
  if (!row.comment?.startsWith('trellis:')) return "the cron schema is not Trellis's";
  return undefined;
}
