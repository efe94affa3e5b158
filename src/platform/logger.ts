/** pino: JSON lines for machines, pretty lines when a person watches the terminal. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(options: { level: string; pretty: boolean }): Logger {
  const base = {
    level: options.level,
    base: { pid: process.pid },
    redact: ['req.headers.authorization', 'req.headers.apikey'],
  };
  // Asynchronous writes: a request's log line must not block it on a write to stdout. pino flushes
  // what is buffered when the process exits.
  if (!options.pretty) return pino(base, pino.destination({ dest: 1, sync: false }));
  return pino(base, pretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
}
