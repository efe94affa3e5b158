/**
 * Outgoing mail. With SMTP_URL: sent through that server. Without: written to the log (so a
 * developer can follow a link from the terminal) and kept in `trellis.mail_outbox` (so tests and
 * tools can read it), never sent anywhere.
 */
import type { Db } from '../../db/index.js';
import type { Logger } from '../logger.js';
import { createOutboxMailer } from './outbox.js';
import { createSmtpMailer } from './smtp.js';

export interface Mail {
  readonly to: string;
  readonly subject: string;
  readonly html: string;
  readonly text: string;
  /** What the mail is for (`confirmation`, `magic_link`, …): logged and kept with an outbox row. */
  readonly kind: string;
}

export interface Mailer {
  /** Resolves once the mail is handed over (SMTP server accepted it, or the outbox row is written). */
  send(mail: Mail): Promise<void>;
  close(): Promise<void>;
}

export function createMailer(options: { smtpUrl: string | undefined; from: string; db: Db; log: Logger }): Mailer {
  return options.smtpUrl === undefined
    ? createOutboxMailer({ db: options.db, log: options.log })
    : createSmtpMailer({ smtpUrl: options.smtpUrl, from: options.from });
}
