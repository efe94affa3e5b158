/** The PostgreSQL-server path (DATABASE_URL): pg_dump -Fc into the target, pg_restore from it. */
import type { Config } from '../config.js';
import { FatalError } from '../errors.js';

export async function dumpCommand(config: Config, sub: string, label: string | undefined): Promise<number> {
  void config;
  void label;
  throw new FatalError(`backup ${sub} of a PostgreSQL server is not available yet`);
}

export async function restoreDumpCommand(
  config: Config,
  where: string,
  id: string | undefined,
  dbUrl: string,
): Promise<number> {
  void config;
  void where;
  void id;
  void dbUrl;
  throw new FatalError('restoring a pg_dump backup is not available yet');
}
