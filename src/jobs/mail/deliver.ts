/**
 * The send-email job: one mail of trellis.mail_log, rendered from its template and handed to the
 * router. Sent or refused: the row says so and the job is done. Every quota spent: the row is
 * `deferred` and a new job waits for the window that reopens (nothing is dropped, no try is
 * spent). Every provider down: a new job waits for the first provider's rest to end (at least 1 s,
 * 2 s, 4 s … after each try); the fifth try marks the row failed. An error of the job itself (the
 * database away) throws, and the runner retries it with backoff. At least once: a worker that dies after the provider took the mail
 * but before the row says `sent` sends it again on the retry.
 */
import type { Db } from '../../db/index.js';
import type { Logger } from '../../platform/logger.js';
import type { MailRouter } from '../../platform/mailer/index.js';
import { renderTemplate } from '../../platform/mailer/templates.js';
import type { JobContext, JobRunner } from '../queue/index.js';

export const SEND_EMAIL_TASK = 'send-email';
/** Tries of a mail while every provider is down, before it fails. */
export const SEND_EMAIL_ATTEMPTS = 5;

export interface DeliverDeps {
  readonly db: Db;
  readonly log: Logger;
  readonly router: MailRouter;
  readonly jobs: Pick<JobRunner, 'add'>;
  readonly from: string;
  readonly siteUrl: string;
  /** The router's clock (a test moves it): a deferral waits from it to the window's start. */
  readonly now: () => Date;
}

interface MailRow {
  id: string;
  recipient: string;
  template: string;
  data: Record<string, unknown>;
  status: string;
  subject: string | null;
  html: string | null;
}

export async function deliverMail(
  deps: DeliverDeps,
  payload: { mail_id?: unknown; tries?: unknown },
  job: JobContext,
): Promise<void> {
  const { db, log } = deps;
  const id = typeof payload.mail_id === 'number' || typeof payload.mail_id === 'string' ? String(payload.mail_id) : '';
  if (!/^\d{1,19}$/.test(id)) {
    log.warn({ job: job.id }, `send-email job without a mail id: ${JSON.stringify(payload)}`);
    return;
  }
  const { rows } = await db.query<MailRow>(
    `select l.id::text, l.recipient, l.template, l.data, l.status, t.subject, t.html
       from trellis.mail_log l left join trellis.mail_templates t on t.name = l.template
      where l.id = $1`,
    [id],
  );
  const mail = rows[0];
  // Gone, or a repeat of a job that already finished it.
  if (!mail || mail.status === 'sent' || mail.status === 'failed') return;
  const update = (status: string, fields: { provider?: string; error?: string | null; until?: Date | null }) =>
    db.query(
      `update trellis.mail_log set status = $2, provider = coalesce($3, provider), error = $4, deferred_until = $5,
              attempts = attempts + 1, updated_at = now(), sent_at = case when $2 = 'sent' then now() end
        where id = $1`,
      [id, status, fields.provider ?? null, fields.error ?? null, fields.until ?? null],
    );
  if (mail.subject === null || mail.html === null) {
    await update('failed', { error: `the template ${mail.template} no longer exists` });
    return;
  }
  const data = mail.data ?? {};
  const rendered = renderTemplate(
    { subject: mail.subject, html: mail.html },
    { ...data, Data: data, Email: mail.recipient, SiteURL: deps.siteUrl },
  );
  const outcome = await deps.router.send({ ...rendered, from: deps.from, to: mail.recipient, kind: mail.template });
  switch (outcome.kind) {
    case 'sent':
      await update('sent', { provider: outcome.provider });
      return;
    case 'rejected':
      await update('failed', { provider: outcome.provider, error: outcome.error });
      return;
    case 'deferred': {
      await update('deferred', { error: outcome.error, until: outcome.until });
      // The wait is measured on the router's clock; the runner's clock is the real one.
      const waitMs = Math.max(0, outcome.until.getTime() - deps.now().getTime());
      await deps.jobs.add(SEND_EMAIL_TASK, { mail_id: Number(id) }, { runAt: new Date(Date.now() + waitMs + 1000) });
      log.info(
        { mail: id, until: outcome.until },
        `mail ${id} waits for ${outcome.until.toISOString()}: ${outcome.error}`,
      );
      return;
    }
    case 'down': {
      // Each try is a job of its own, due when the first resting provider may be tried again, so
      // that retries follow the providers' rests rather than spending attempts while all rest.
      const tries = (typeof payload.tries === 'number' ? payload.tries : 0) + 1;
      if (tries >= SEND_EMAIL_ATTEMPTS) {
        await update('failed', { error: `${outcome.error} (${tries} tries)` });
        return;
      }
      await update('queued', { error: outcome.error });
      const waitMs = Math.max(outcome.retryAt.getTime() - deps.now().getTime(), 1000 * 2 ** (tries - 1));
      await deps.jobs.add(SEND_EMAIL_TASK, { mail_id: Number(id), tries }, { runAt: new Date(Date.now() + waitMs) });
      return;
    }
  }
}
