/** The first contact with a database server, and how its failures and URLs are shown to a person. */
import { FatalError } from '../errors.js';
import type { Tx } from './claims.js';
import { DatabaseOutage } from './outage.js';

/** Checks that the server answers, turning a failure into one line that names the setting. */
export async function checkConnection(db: Tx, setting: string, displayUrl: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  // A start must end within 10 s when the server is unreachable, whatever DB_CONNECT_TIMEOUT_MS says.
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })), 8000);
  });
  try {
    await Promise.race([db.query('select 1'), deadline]);
  } catch (err) {
    throw new FatalError(`cannot connect to ${displayUrl}: ${describeConnectError(err)}`, setting);
  } finally {
    clearTimeout(timer);
  }
}

export function describeConnectError(err: unknown): string {
  // The pool hands on a failure as a DatabaseOutage: describe what the socket or server said.
  if (err instanceof DatabaseOutage && err.cause !== undefined) return describeConnectError(err.cause);
  const e = err as { code?: string; message?: string; hostname?: string };
  switch (e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is PostgreSQL running there?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${e.hostname ?? ''} not found`.replace('  ', ' ');
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      if (err instanceof AggregateError) return describeConnectError(err.errors[0]);
      if (/timeout/i.test(e.message ?? '')) return 'timed out (DB_CONNECT_TIMEOUT_MS)';
      return e.message ?? String(err);
  }
}

/** A database URL with its password hidden, for logs and error lines. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '*****';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}
