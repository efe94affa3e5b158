/**
 * One tick of one job: claim it, run the command as the job's owner, record how it went. The claim
 * is a row of cron.job_run_details unique on (jobid, scheduled_at): of any number of instances that
 * see the same tick, one inserts it and the others insert nothing, so a tick runs at most once. The
 * same statement refuses the tick while a run of the job is live (its backend in pg_stat_activity),
 * as pg_cron does not run a job alongside itself.
 */
import pg from 'pg';
import { ident, type Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { RunLogins } from './logins.js';

export interface RunOptions {
  readonly db: Db;
  readonly logins: RunLogins;
  /** statement_timeout of the command, in ms (0: none). */
  readonly timeoutMs: number;
  readonly connectTimeoutMs: number;
  /** Called with the run's backend pid once it is known, so a stop can cancel it. */
  readonly onBackend?: (pid: number) => void;
}

export type RunOutcome =
  | { readonly ran: false }
  | { readonly ran: true; readonly runid: string; readonly status: 'succeeded' | 'failed'; readonly message: string };

// A 'starting' run has no backend yet: it counts as live for a minute, then as abandoned.
const CLAIM = `
insert into cron.job_run_details (jobid, database, username, command, status, start_time, scheduled_at)
select j.jobid, j.database, j.username, j.command, 'starting', now(), to_timestamp($2)
  from cron.job j
 where j.jobid = $1 and j.active
   and not exists (
     select 1 from cron.job_run_details r
      where r.jobid = j.jobid and r.status in ('starting', 'running')
        and case when r.job_pid is null then r.start_time > now() - interval '1 minute'
                 else exists (select 1 from pg_stat_activity a where a.pid = r.job_pid) end)
on conflict (jobid, scheduled_at) do nothing
returning runid::text, command, username`;

export async function runTick(jobid: string, tickS: number, options: RunOptions): Promise<RunOutcome> {
  const { db } = options;
  const claimed = await db.query<{ runid: string; command: string; username: string }>(CLAIM, [jobid, tickS]);
  const run = claimed.rows[0];
  if (!run) return { ran: false };
  const finish = async (status: 'succeeded' | 'failed', message: string): Promise<RunOutcome> => {
    await db.query(
      `update cron.job_run_details set status = $2, return_message = $3, end_time = now() where runid = $1`,
      [run.runid, status, message],
    );
    return { ran: true, runid: run.runid, status, message };
  };
  let client: pg.Client | undefined;
  // Until the command is sent, a failure may be the login's (remade elsewhere, its membership gone
  // with a dropped and recreated owner): the next tick looks it up afresh.
  let commandSent = false;
  try {
    const login = await options.logins.loginFor(run.username);
    client = new pg.Client({
      connectionString: login.url,
      connectionTimeoutMillis: options.connectTimeoutMs,
      application_name: 'trellis cron',
    });
    client.on('error', () => undefined);
    await client.connect();
    const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    options.onBackend?.(pid);
    await db.query(`update cron.job_run_details set status = 'running', job_pid = $2 where runid = $1`, [
      run.runid,
      pid,
    ]);
    await client.query(`set statement_timeout = ${Math.max(0, Math.floor(options.timeoutMs))}`);
    // The simple protocol, as pg_cron sends it: several statements may run, and VACUUM may too.
    let text = run.command;
    if (login.shared)
      // On the server's login, the role goes in the same query string: a pooler in transaction mode
      // could otherwise run the command on another backend, without the role. (VACUUM then refuses.)
      text = `set role ${ident(login.role!)};\n${run.command}`;
    else if (login.role !== undefined) await client.query(`set role ${ident(login.role)}`);
    commandSent = true;
    const result = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
    return await finish('succeeded', describeResult(result));
  } catch (err) {
    if (!commandSent) options.logins.forget(run.username);
    return await finish('failed', errorMessage(err));
  } finally {
    await client?.end().catch(() => undefined);
  }
}

/** The command tag, as psql prints it ("INSERT 0 1", "DELETE 3", "VACUUM"), or "N rows" for a SELECT. */
export function describeResult(result: pg.QueryResult | pg.QueryResult[]): string {
  const last = Array.isArray(result) ? result[result.length - 1] : result;
  if (!last?.command) return '';
  const count = last.rowCount;
  if (last.command === 'SELECT') return `${count ?? 0} ${count === 1 ? 'row' : 'rows'}`;
  if (last.command === 'INSERT') return `INSERT 0 ${count ?? 0}`;
  return count === null || count === undefined ? last.command : `${last.command} ${count}`;
}
