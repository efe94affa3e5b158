/** The net sender as the server starts it: the settings (docs/configuration.md) and the signing key. */
import type { Registry } from 'prom-client';
import type { Config } from '../../config.js';
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../platform/logger.js';
import { webhookSigningKey } from '../../project/secrets.js';
import { startNetSender, type NetSender } from './sender.js';

/**
 * `storedSecret`: the data folder's webhook secret, used when WEBHOOK_SECRET is unset. A sender
 * that cannot start (the database refused its first query) is logged, never a failed start: the
 * requests wait in the queue for the next start or another instance.
 */
export async function startWebhooks(
  config: Config,
  db: Db,
  log: Logger,
  storedSecret: string | undefined,
  serviceRoleKey: string,
  registry?: Registry,
): Promise<NetSender | undefined> {
  const settings = config.webhooks;
  if (!settings.sender) return undefined;
  const secret = settings.secret ?? storedSecret;
  try {
    return await startNetSender({
      db,
      log,
      concurrency: settings.concurrency,
      pollIntervalMs: settings.pollIntervalMs,
      responseTtlS: settings.responseTtlS,
      maxResponseBytes: settings.maxResponseBytes,
      retry: { retries: settings.retries, backoffMs: settings.retryBackoffMs },
      signingKeys: (secret ?? '').split(/\s+/).filter(Boolean).map(webhookSigningKey),
      registry,
      functions: { baseUrl: config.localUrl, serviceRoleKey },
    });
  } catch (err) {
    log.warn(`the net sender did not start: ${errorMessage(err)}`);
    return undefined;
  }
}
