/** pino: JSON lines for machines, pretty lines when a person watches the terminal. */
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export function createLogger(options: { level: string; pretty: boolean }): Logger {
  const base = { level: options.level, base: { pid: process.pid }, redact: ['req.headers.authorization', 'req.headers.apikey'] };
  if (!options.pretty) return pino(base);
  return pino(base, pretty({ colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname', sync: true }));
}
