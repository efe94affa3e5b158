import fs from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/pool.js';
import { createMailer, type Mail } from '../../src/platform/mailer/index.js';
import {
  DEFAULT_TEMPLATES,
  loadTemplates,
  render,
  type Templates,
  type TemplateVars,
} from '../../src/platform/mailer/templates.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';

const silent = pino({ level: 'silent' });
const withHtml = (html: string, subject = 'Subject'): Templates => ({
  ...DEFAULT_TEMPLATES,
  confirmation: { subject, html, source: 'test' },
});
const tempDir = (prefix: string) => fs.mkdtemp(path.join(os.tmpdir(), prefix));

describe('email templates', () => {
  const vars: TemplateVars = {
    ConfirmationURL: 'https://api.example.com/auth/v1/verify?token=abc&type=signup&redirect_to=https://app.example.com',
    Token: '123456',
    TokenHash: 'f00dfeed',
    SiteURL: 'https://app.example.com',
    Email: 'old@example.com',
    NewEmail: 'new@example.com',
    RedirectTo: 'https://app.example.com/welcome',
    Data: { name: 'Ada', nested: { team: 'core' }, evil: '<script>alert("x")</script>', n: 3 },
  };

  test.each([
    [
      '{{ .ConfirmationURL }}',
      'https://api.example.com/auth/v1/verify?token=abc&amp;type=signup&amp;redirect_to=https://app.example.com',
    ],
    ['{{ .Token }}', '123456'],
    ['{{.TokenHash}}', 'f00dfeed'],
    ['{{ .SiteURL }}', 'https://app.example.com'],
    ['{{ .Email }} → {{ .NewEmail }}', 'old@example.com → new@example.com'],
    ['{{ .RedirectTo }}', 'https://app.example.com/welcome'],
    ['Hi {{ .Data.name }} of {{ .Data.nested.team }} ({{ .Data.n }})', 'Hi Ada of core (3)'],
    ['{{ .Data.evil }}', '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'],
    ['[{{ .Nope }}][{{ .Data.missing }}][{{ .Data.name.deeper }}]', '[][][]'],
  ])('renders %s into html', (html, expected) => {
    expect(render(withHtml(html), 'confirmation', vars).html).toBe(expected);
  });

  test('the plain-text part keeps link URLs unescaped and metadata as typed', () => {
    const mail = render(
      withHtml('<h2>Hi {{ .Data.evil }}</h2><p>Go <a href="{{ .ConfirmationURL }}">here</a>.<br>Bye</p>'),
      'confirmation',
      vars,
    );
    expect(mail.text).toBe(`Hi <script>alert("x")</script>\n\nGo here: ${vars.ConfirmationURL}.\nBye`);
  });

  test('variables render in the subject, without line breaks or escaping', () => {
    const mail = render(withHtml('', 'Welcome {{ .Data.name }} & {{ .Data.multi }}'), 'confirmation', {
      Data: { name: 'Ada', multi: 'two\nlines' },
    });
    expect(mail.subject).toBe('Welcome Ada & two lines');
  });

  test('the built-in magic link carries the link and the 6-digit code', async () => {
    const mail = render(await loadTemplates('/nonexistent/templates'), 'magic_link', vars);
    expect(mail.subject).toBe('Your Magic Link');
    expect(mail.html).toContain('<a href="https://api.example.com/auth/v1/verify?token=abc&amp;type=signup');
    expect(mail.text).toContain(`Log In: ${vars.ConfirmationURL}`);
    expect(mail.text).toContain('Alternatively, enter the code: 123456');
    expect(render(DEFAULT_TEMPLATES, 'confirmation', vars).subject).toBe('Confirm Your Signup');
  });

  test('an override file replaces one kind; its first-line comment sets the subject', async () => {
    const dir = await tempDir('trellis-templates-');
    try {
      await fs.writeFile(
        path.join(dir, 'recovery.html'),
        '<!-- subject: Reset your {{ .SiteURL }} password -->\n<p>Hello {{ .Email }}, <a href="{{ .ConfirmationURL }}">reset</a></p>\n',
      );
      await fs.writeFile(path.join(dir, 'invite.html'), '<p>Join us</p>');
      const templates = await loadTemplates(dir);
      const recovery = render(templates, 'recovery', vars);
      expect(recovery.subject).toBe('Reset your https://app.example.com password');
      expect(recovery.html).toBe(
        `<p>Hello old@example.com, <a href="${vars.ConfirmationURL?.replaceAll('&', '&amp;')}">reset</a></p>\n`,
      );
      expect(render(templates, 'invite', vars)).toMatchObject({
        subject: 'You have been invited',
        html: '<p>Join us</p>',
      });
      expect(templates.confirmation).toBe(DEFAULT_TEMPLATES.confirmation);
    } finally {
      await fs.rm(dir, { recursive: true });
    }
  });

  test('a template that cannot be read, or uses unsupported syntax, is an error naming the file', async () => {
    const dir = await tempDir('trellis-templates-');
    try {
      await fs.mkdir(path.join(dir, 'invite.html'));
      await expect(loadTemplates(dir)).rejects.toThrow(`cannot read email template ${path.join(dir, 'invite.html')}`);
      await fs.rmdir(path.join(dir, 'invite.html'));
      await fs.writeFile(
        path.join(dir, 'magic_link.html'),
        '<!-- subject: Hi -->\n<p>\n{{ if .Token }}code{{ end }}</p>',
      );
      await expect(loadTemplates(dir)).rejects.toThrow(
        `email template ${path.join(dir, 'magic_link.html')} at line 3: "{{ if .Token }}" is not supported`,
      );
    } finally {
      await fs.rm(dir, { recursive: true });
    }
  });
});

describe('mailer without SMTP', () => {
  let database: TestDatabase;
  let db: Db;
  beforeAll(async () => {
    database = await freshDatabase();
    db = testDb(database.url, { max: 2 });
    await migrate(db, path.join(os.tmpdir(), 'trellis-no-migrations'), { dryRun: false, onProgress: () => undefined });
  });
  afterAll(async () => {
    await db?.close();
    await database?.drop();
  });

  test('logs the mail with its text and keeps it in trellis.mail_outbox', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const mailer = createMailer({ smtpUrl: undefined, from: 'Trellis <noreply@localhost>', db, log });
    const mail: Mail = {
      to: 'ada@example.com',
      subject: 'Your Magic Link',
      html: '<p><a href="http://x/verify?a=1&amp;b=2">Log In</a></p>',
      text: 'Log In: http://x/verify?a=1&b=2',
      kind: 'magic_link',
    };
    await mailer.send(mail);
    await mailer.close();
    const rows = (await db.query('select kind, recipient, subject, html, text, created_at from trellis.mail_outbox'))
      .rows;
    expect(rows).toEqual([
      {
        kind: 'magic_link',
        recipient: mail.to,
        subject: mail.subject,
        html: mail.html,
        text: mail.text,
        created_at: expect.any(Date),
      },
    ]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, to: mail.to, subject: mail.subject, kind: 'magic_link' });
    expect(lines[0]?.msg).toContain('Log In: http://x/verify?a=1&b=2');
  });
});

describe('mailer over SMTP', () => {
  interface Received {
    from: string;
    to: string[];
    raw: string;
  }
  const received: Received[] = [];
  let server: SMTPServer;
  let port: number;
  beforeAll(async () => {
    server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (address.address.endsWith('@refused.example')) callback(new Error('no such mailbox'));
        else callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push({
            from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            to: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks).toString('utf8'),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));
  // SMTP mode never touches the database.
  const smtpMailer = (from: string) =>
    createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from, db: undefined as never, log: silent });

  test('sends the mail with its From, To, Subject, html and text', async () => {
    const mailer = smtpMailer('Trellis <noreply@trellis.test>');
    try {
      const mail = render(DEFAULT_TEMPLATES, 'magic_link', {
        ConfirmationURL: 'http://127.0.0.1/verify?t=1&u=2',
        Token: '654321',
      });
      await mailer.send({ ...mail, to: 'ada@example.com', kind: 'magic_link' });
      expect(received).toHaveLength(1);
      const message = received[0]!;
      expect(message.from).toBe('noreply@trellis.test');
      expect(message.to).toEqual(['ada@example.com']);
      const headers = message.raw.slice(0, message.raw.indexOf('\r\n\r\n'));
      expect(headers).toMatch(/^From: Trellis <noreply@trellis\.test>$/m);
      expect(headers).toMatch(/^To: ada@example\.com$/m);
      expect(headers).toMatch(/^Subject: Your Magic Link$/m);
      const body = decodeQuotedPrintable(message.raw);
      expect(body).toContain('<a href="http://127.0.0.1/verify?t=1&amp;u=2">Log In</a>');
      expect(body).toContain('Log In: http://127.0.0.1/verify?t=1&u=2');
    } finally {
      await mailer.close();
    }
  });

  test('a mail the server refuses fails the send', async () => {
    const mailer = smtpMailer('noreply@trellis.test');
    try {
      await expect(
        mailer.send({ to: 'nobody@refused.example', subject: 's', html: '<p>x</p>', text: 'x', kind: 'invite' }),
      ).rejects.toThrow(/no such mailbox/);
    } finally {
      await mailer.close();
    }
  });
});

/** Enough of quoted-printable for nodemailer's parts: soft line breaks and =XX bytes. */
function decodeQuotedPrintable(raw: string): string {
  return raw
    .replace(/=\r\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}
