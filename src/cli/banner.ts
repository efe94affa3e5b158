/** What `trellis start` prints once it serves: the URLs and keys a developer copies. */
import type { Config } from '../config.js';
import { redactUrl } from '../db/index.js';
import type { ApiKeys } from '../project/secrets.js';

export function printBanner(
  config: Config,
  apiUrl: string,
  dbUrl: string,
  keys: ApiKeys,
  workers = 1,
  studioPassword?: string,
): void {
  process.stdout.write(
    [
      '',
      workers > 1 ? `Trellis is running (${workers} workers).` : 'Trellis is running.',
      '',
      `         API URL: ${apiUrl}`,
      // A DATABASE_URL's password would end up in container logs; the embedded one is local.
      `          DB URL: ${config.databaseUrl ? redactUrl(dbUrl) : dbUrl}`,
      `        anon key: ${keys.anonKey}`,
      `service_role key: ${keys.serviceRoleKey}`,
      ...(config.studio.enabled ? [`          Studio: ${config.studio.url}`] : []),
      // Printed on the first start only: only its hash is kept (`trellis studio passwd` sets another).
      ...(studioPassword !== undefined
        ? [` Studio password: ${studioPassword}   (shown once; change it with \`trellis studio passwd\`)`]
        : []),
      '',
      '',
    ].join('\n'),
  );
}
