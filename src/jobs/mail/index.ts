/**
 * App email (docs/mail.md): trellis.send_email(to, template, data) from SQL, a trigger or a job
 * queues a `send-email` job of Trellis's runner; this module copies the templates and limits into
 * the database at start and runs those jobs through the server's mail router.
 */
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../platform/logger.js';
import type { MailRouter } from '../../platform/mailer/index.js';
import type { Config } from '../../config.js';
import type { JobRunner } from '../queue/index.js';
import { deliverMail, SEND_EMAIL_TASK } from './deliver.js';
import { loadAppTemplates, syncAppTemplates } from './templates.js';

export { deliverMail, SEND_EMAIL_TASK, SEND_EMAIL_ATTEMPTS, type DeliverDeps } from './deliver.js';
export { loadAppTemplates, syncAppTemplates, type AppTemplate } from './templates.js';

export interface MailWorkerOptions {
  readonly db: Db;
  readonly log: Logger;
  readonly router: MailRouter;
  readonly jobs: JobRunner;
  readonly templatesDir: string;
  readonly from: string;
  readonly siteUrl: string;
  readonly limits: { readonly perAddressPerDay: number; readonly perIpPerHour: number; readonly maxDataBytes: number };
  /** Days trellis.mail_log keeps a row (0 or absent: forever); older ones go hourly. */
  readonly logRetentionDays?: number;
  /** The router's clock (a test moves it); the real one by default. */
  readonly now?: () => Date;
}

export async function startMailWorker(options: MailWorkerOptions): Promise<void> {
  const { db, limits } = options;
  await syncAppTemplates(db, await loadAppTemplates(options.templatesDir));
  await db.query(
    'update trellis.mail_settings set per_address_per_day = $1, per_ip_per_hour = $2, max_data_bytes = $3',
    [limits.perAddressPerDay, limits.perIpPerHour, limits.maxDataBytes],
  );
  const deps = { ...options, now: options.now ?? (() => new Date()) };
  const days = options.logRetentionDays ?? 0;
  if (days > 0) {
    // Every instance may run it: a delete of what another already deleted is a no-op.
    const purge = () =>
      db
        .query(`delete from trellis.mail_log where created_at < now() - $1 * interval '1 day'`, [days])
        .catch((err: unknown) => options.log.debug(`purging trellis.mail_log: ${errorMessage(err)}`));
    setInterval(() => void purge(), 3_600_000).unref();
    void purge();
  }
  await options.jobs.handle<{ mail_id?: unknown; tries?: unknown }>(SEND_EMAIL_TASK, (payload, job) =>
    deliverMail(deps, payload, job),
  );
}

/**
 * What `trellis start` runs (one line in server.ts). The services' fields, not the Services type:
 * services.ts imports the jobs door, and a type import back would be a cycle.
 */
export function startAppEmail(
  services: { readonly config: Config; readonly log: Logger; readonly db: Db; readonly mailRouter: MailRouter },
  jobs: JobRunner,
): Promise<void> {
  const { config } = services;
  return startMailWorker({
    db: services.db,
    log: services.log,
    router: services.mailRouter,
    jobs,
    templatesDir: config.auth.templatesDir,
    from: config.mail.from,
    siteUrl: config.auth.siteUrl,
    limits: config.mail,
    logRetentionDays: config.mail.logRetentionDays,
  });
}
