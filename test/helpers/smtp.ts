/** A real SMTP server that keeps what it receives, parsed, so tests can follow links and codes. */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { freePort } from './cli.js';

export interface MailSink {
  readonly url: string;
  readonly mails: ParsedMail[];
  /** Waits for the next mail to `to` received after `since` mails. */
  next(to: string, since?: number): Promise<ParsedMail>;
  close(): Promise<void>;
}

export async function startMailSink(): Promise<MailSink> {
  const mails: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          mails.push(mail);
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const recipient = (m: ParsedMail) =>
    (Array.isArray(m.to) ? m.to : m.to ? [m.to] : []).flatMap((a) => a.value.map((v) => v.address));
  return {
    url: `smtp://127.0.0.1:${port}?ignoreTLS=true`,
    mails,
    async next(to, since = 0) {
      for (let i = 0; i < 200; i++) {
        const found = mails.slice(since).find((m) => recipient(m).includes(to));
        if (found) return found;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`no mail to ${to} within 5 s`);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The verification link and the 6-digit code in a mail. */
export function linkAndCode(mail: ParsedMail): { link: string | undefined; code: string | undefined } {
  const text = `${mail.text ?? ''}\n${typeof mail.html === 'string' ? mail.html : ''}`;
  const link = /https?:\/\/[^\s"'<>]+\/auth\/v1\/verify\?[^\s"'<>]+/.exec(text)?.[0]?.replaceAll('&amp;', '&');
  const code = /\b(\d{6})\b/.exec(mail.text ?? '')?.[1];
  return { link, code };
}
