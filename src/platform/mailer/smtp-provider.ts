/** An SMTP server as one provider of the router (nodemailer, a small pool of kept-open connections). */
import { lazyRequire } from '../lazy.js';
import { errorMessage } from '../../errors.js';
import type { MailProvider } from './mailer.js';

const nodemailer = lazyRequire<typeof import('nodemailer')>('nodemailer');

export interface SmtpProviderOptions {
  readonly name: string;
  readonly url: string;
  readonly from?: string | undefined;
  readonly dailyQuota?: number | undefined;
  readonly monthlyQuota?: number | undefined;
}

export function createSmtpProvider(options: SmtpProviderOptions): MailProvider {
  // The URL's own query (?ignoreTLS=true, a timeout) wins over these; the time limits make a
  // silent server `down` within seconds instead of holding a job for minutes.
  const transport = nodemailer().createTransport({
    url: options.url,
    pool: true,
    connectionTimeout: 15_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    name: options.name,
    kind: 'smtp',
    from: options.from,
    dailyQuota: options.dailyQuota,
    monthlyQuota: options.monthlyQuota,
    async send(mail) {
      try {
        const info = (await transport.sendMail(mail)) as { messageId?: unknown };
        return { kind: 'sent', messageId: typeof info.messageId === 'string' ? info.messageId : undefined };
      } catch (err) {
        // A 5xx reply to the mail itself (550 no such mailbox) refuses this mail; a 4xx, a refused
        // login (535) or no connection at all is the server's trouble: try the next provider.
        const code = (err as { responseCode?: number }).responseCode;
        const auth = (err as { code?: string }).code === 'EAUTH';
        const rejected = code !== undefined && code >= 500 && !auth;
        return { kind: rejected ? 'rejected' : 'down', error: `${options.name}: ${errorMessage(err)}` };
      }
    },
    async close() {
      transport.close();
    },
  };
}
