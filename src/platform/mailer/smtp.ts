/** Mail through the SMTP server in SMTP_URL, over a small pool of kept-open connections. */
import { lazyRequire } from '../lazy.js';
import type { Mailer } from './mailer.js';

const nodemailer = lazyRequire<typeof import('nodemailer')>('nodemailer');

export function createSmtpMailer(options: { smtpUrl: string; from: string }): Mailer {
  // A pool: a burst of sign-ups reuses connections instead of a TCP and TLS handshake per mail.
  const transport = nodemailer().createTransport({ url: options.smtpUrl, pool: true }, { from: options.from });
  return {
    async send(mail) {
      // Failures propagate: the caller decides whether a lost mail fails its request.
      await transport.sendMail({ to: mail.to, subject: mail.subject, html: mail.html, text: mail.text });
    },
    async close() {
      transport.close();
    },
  };
}
