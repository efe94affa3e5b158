/**
 * pino: JSON lines for machines, pretty lines when a person watches the terminal; and, beside
 * them, the last warnings and errors in memory for Studio (recent-logs.ts).
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';
import { attachRecentLogs, RecentLogs } from './recent-logs.js';

export type { Logger };
export { recentLogsOf, type RecentLogRecord, type RecentLevel } from './recent-logs.js';

const RECENT_RECORDS = 500;

export function createLogger(options: { level: string; pretty: boolean }): Logger {
  // Asynchronous writes: a request's log line must not block it on a write to stdout. pino flushes
  // what is buffered when the process exits.
  const out: DestinationStream = options.pretty
    ? pretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true })
    : pino.destination({ dest: 1, sync: false });
  const ring = new RecentLogs(RECENT_RECORDS);
  // The logger's level is the lower of LOG_LEVEL and warn, so that the ring sees warnings under
  // LOG_LEVEL=error or silent too; stdout still gets only LOG_LEVEL and above.
  const outLevel = options.level;
  const enabled = pino.levels.values[outLevel] ?? Infinity;
  const level = enabled < pino.levels.values.warn! ? outLevel : 'warn';
  const streams: pino.StreamEntry[] = [{ level: 'warn', stream: ring }];
  if (outLevel !== 'silent') streams.push({ level: outLevel as pino.Level, stream: out });
  const log = pino(
    {
      level,
      base: { pid: process.pid },
      redact: ['req.headers.authorization', 'req.headers.apikey'],
    },
    pino.multistream(streams),
  );
  return attachRecentLogs(log, ring);
}
