/**
 * Outgoing mail. With SMTP_URL: sent through that server. Without: written to the log (so a
 * developer can follow a link from the terminal) and kept in `trellis.mail_outbox` (so tests and
 * tools can read it), never sent anywhere.
 */
import type { Db } from '../../db/index.js';
import type { Logger } from '../logger.js';
import type { Mailer } from './mailer.js';
import { createOutboxMailer } from './outbox.js';
import { createSmtpMailer } from './smtp.js';

export type { Mail, Mailer } from './mailer.js';

export function createMailer(options: { smtpUrl: string | undefined; from: string; db: Db; log: Logger }): Mailer {
  return options.smtpUrl === undefined
    ? createOutboxMailer({ db: options.db, log: options.log })
    : createSmtpMailer({ smtpUrl: options.smtpUrl, from: options.from });
}
