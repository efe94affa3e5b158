/** No SMTP configured: mail goes to the log and to trellis.mail_outbox instead of to anyone. */
import type { Db } from '../../db/index.js';
import type { Logger } from '../logger.js';
import type { MailProvider, Mailer } from './mailer.js';

export function createOutboxMailer(options: { db: Db; log: Logger }): Mailer {
  const { db, log } = options;
  return {
    async send(mail) {
      // Logged first: the link reaches the terminal even when the insert fails.
      log.info(
        { to: mail.to, subject: mail.subject, kind: mail.kind },
        `mail not sent (SMTP_URL is not set), kept in trellis.mail_outbox:\n${mail.text}`,
      );
      await db.query(
        'insert into trellis.mail_outbox (kind, recipient, subject, html, text) values ($1, $2, $3, $4, $5)',
        [mail.kind, mail.to, mail.subject, mail.html, mail.text],
      );
    },
    // The database belongs to the caller.
    close: async () => undefined,
  };
}

/** The outbox as the router's one provider when none is configured (development, tests). */
export function createOutboxProvider(options: { db: Db; log: Logger }): MailProvider {
  const outbox = createOutboxMailer(options);
  return {
    name: 'outbox',
    kind: 'outbox',
    dailyQuota: undefined,
    monthlyQuota: undefined,
    async send(mail) {
      await outbox.send({ ...mail, kind: mail.kind ?? 'app' });
      return { kind: 'sent', messageId: undefined };
    },
    close: async () => undefined,
  };
}
