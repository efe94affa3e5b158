/**
 * Auth's mails through the provider router: the same providers, quotas and health as app email,
 * handed over during the request (auth keeps its own rate limits). Each is logged in
 * trellis.mail_log (source 'auth'); one no provider took fails the request as an SMTP failure did.
 */
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../logger.js';
import type { MailRouter, Mailer } from './mailer.js';

export class MailNotSent extends Error {}

export function createRoutedMailer(options: { router: MailRouter; from: string; db: Db; log: Logger }): Mailer {
  const { router, from, db, log } = options;
  return {
    async send(mail) {
      const outcome = await router.send({ ...mail, from });
      const sent = outcome.kind === 'sent';
      // The log is a record, not the delivery: a mail that went out is not failed by a lost row.
      await db
        .query(
          `insert into trellis.mail_log (recipient, template, source, status, provider, error, attempts, sent_at)
         values ($1, $2, 'auth', $3, $4, $5, 1, case when $3 = 'sent' then now() end)`,
          [
            mail.to,
            mail.kind,
            sent ? 'sent' : 'failed',
            'provider' in outcome ? outcome.provider : null,
            sent ? null : outcome.error,
          ],
        )
        .catch((err: unknown) => log.warn(`logging the ${mail.kind} mail to ${mail.to}: ${errorMessage(err)}`));
      if (!sent) throw new MailNotSent(`the ${mail.kind} mail to ${mail.to} was not sent: ${outcome.error}`);
    },
    close: () => router.close(),
  };
}
