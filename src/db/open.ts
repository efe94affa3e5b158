/** Opens the database Trellis runs on: the server in DATABASE_URL, or the embedded one. */
import type { Config } from '../config.js';
import type { Logger } from '../platform/logger.js';
import type { StoredSecrets } from '../project/secrets.js';
import { startEmbedded, type EmbeddedDatabase } from './embedded.js';
import { checkConnection, redactUrl } from './connect.js';
import { describeDbError } from './outage.js';
import { createDb, type Db } from './pool.js';
import { withReplicas } from './read-routing.js';
import { createReadReplicas } from './replicas.js';

export interface OpenDatabase {
  readonly db: Db;
  /** From now on, requests (withClaims) log in at `url` (see request-role.ts). */
  routeRequests(url: string): void;
  /** The URL a person can give psql (includes the embedded database's password). */
  readonly url: string;
  close(): Promise<void>;
}

export async function openDatabase(
  config: Config,
  secrets: StoredSecrets,
  log: Logger,
  /** A URL to use instead (`trellis migrate` on a folder whose Trellis is running). */
  runningUrl?: string,
): Promise<OpenDatabase> {
  let embedded: EmbeddedDatabase | undefined;
  const url =
    config.databaseUrl ??
    runningUrl ??
    (embedded = await startEmbedded({
      dataDir: config.dataDir,
      password: secrets.dbPassword,
      archive: { dir: config.backup.archiveDir, timeoutS: config.backup.archiveTimeoutS },
      onProgress: (message) => log.info(message),
    })).url;
  const db = createDb({
    ...config.pool,
    url,
    // One line with the code and message: pg-pool hangs the whole pg Client on the error (`err.client`).
    onIdleError: (err) => log.warn(`database connection failed: ${describeDbError(err)}`),
  });
  try {
    const setting = config.databaseUrl ? 'DATABASE_URL' : embedded ? 'embedded database' : 'running Trellis database';
    await checkConnection(db, setting, redactUrl(url));
  } catch (err) {
    // Not awaited: ending the pool waits for the connect attempt still under way, which may last
    // DB_CONNECT_TIMEOUT_MS; the start must fail now. The embedded database is stopped properly.
    void db.close().catch(() => undefined);
    await embedded?.stop();
    throw err;
  }
  let current = db;
  if (config.readReplicas.urls.length > 0) {
    // Not checked like the primary: a replica that is down at start is skipped until it answers.
    const replicas = createReadReplicas(
      db,
      config.readReplicas,
      {
        ...config.pool,
        onIdleError: (err) => log.warn(`replica connection failed: ${describeDbError(err)}`),
      },
      (status) =>
        status.state === 'healthy'
          ? log.info({ replica: status.url }, 'read replica serves reads')
          : log.warn(
              { replica: status.url, reason: status.reason },
              `read replica ${status.state}: reads go elsewhere`,
            ),
    );
    current = withReplicas(db, replicas);
  }
  return {
    get db() {
      return current;
    },
    url,
    routeRequests(requestUrl) {
      current = current.forRequests(requestUrl);
    },
    close: async () => {
      await current.close().catch(() => undefined);
      await embedded?.stop();
    },
  };
}
