/**
 * Outgoing mail. The router (router.ts) holds the providers: MAIL_PROVIDERS in priority order; else
 * the SMTP server of SMTP_URL alone; else the outbox (mails written to the log and kept in
 * `trellis.mail_outbox`, never sent anywhere). Auth's mailer and app email (src/jobs/mail) share it.
 */
import type { Registry } from 'prom-client';
import type { MailProviderConfig } from '../../config/mail-providers.js';
import type { Db } from '../../db/index.js';
import type { Logger } from '../logger.js';
import { createHttpProvider } from './http-provider.js';
import { createOutboxMailer, createOutboxProvider } from './outbox.js';
import { createRoutedMailer } from './routed.js';
import type { MailProvider, MailRouter, Mailer } from './mailer.js';
import { createMailRouter } from './router.js';
import { createSmtpMailer } from './smtp.js';
import { createSmtpProvider } from './smtp-provider.js';

export type { Mail, Mailer, MailProvider, MailRouter, OutgoingMail, RouteOutcome, SendOutcome } from './mailer.js';
export { createMailRouter, type MailRouterOptions } from './router.js';
export { MailNotSent } from './routed.js';
export { quotaWindows } from './windows.js';

export interface MailerOptions {
  readonly smtpUrl: string | undefined;
  readonly from: string;
  readonly db: Db;
  readonly log: Logger;
  /** With a router, mail goes through it (the server's way); without, to SMTP_URL or the outbox directly. */
  readonly router?: MailRouter;
}

export function createMailer(options: MailerOptions): Mailer {
  if (options.router)
    return createRoutedMailer({ router: options.router, from: options.from, db: options.db, log: options.log });
  return options.smtpUrl === undefined
    ? createOutboxMailer({ db: options.db, log: options.log })
    : createSmtpMailer({ smtpUrl: options.smtpUrl, from: options.from });
}

/** The providers of the configuration, in priority order (never empty: the outbox at least). */
export function createProviders(options: {
  providers: readonly MailProviderConfig[];
  smtpUrl: string | undefined;
  db: Db;
  log: Logger;
}): MailProvider[] {
  if (options.providers.length > 0)
    return options.providers.map((p) =>
      p.kind === 'smtp'
        ? createSmtpProvider({
            name: p.name,
            url: p.url ?? '',
            from: p.from,
            dailyQuota: p.dailyQuota,
            monthlyQuota: p.monthlyQuota,
          })
        : createHttpProvider(p),
    );
  if (options.smtpUrl !== undefined) return [createSmtpProvider({ name: 'smtp', url: options.smtpUrl })];
  return [createOutboxProvider({ db: options.db, log: options.log })];
}

/** The server's router over the configured providers, with its metrics. */
export function createServerMailRouter(options: {
  providers: readonly MailProviderConfig[];
  smtpUrl: string | undefined;
  db: Db;
  log: Logger;
  registry: Registry;
}): MailRouter {
  return createMailRouter({
    db: options.db,
    log: options.log,
    providers: createProviders(options),
    registry: options.registry,
  });
}
