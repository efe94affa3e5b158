/**
 * Cron with pg_cron's names (docs/cron.md): the schema is src/sql/0120_cron.sql; this door starts
 * the scheduler every instance runs and exposes the schedule parser.
 */
export { startCronScheduler, type CronOptions, type CronScheduler } from './scheduler.js';
export { parseSchedule, tickerOf, type ParsedSchedule, type Schedule, type Ticker } from './schedule.js';
export type { RunOutcome } from './run.js';
