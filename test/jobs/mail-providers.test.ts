/**
 * Each mail provider kind against a loopback server speaking its documented API (or a real SMTP
 * server): the endpoint, the auth header and the body fields it sends, and how each answer is
 * read (sent, the provider down, the mail refused).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseMailProviders, type MailProviderConfig } from '../../src/config/mail-providers.js';
import { parseSupabaseToml } from '../../src/config/toml.js';
import { loadAppTemplates } from '../../src/jobs/mail/index.js';
import { classifyStatus, splitAddress } from '../../src/platform/mailer/http-apis.js';
import { createHttpProvider } from '../../src/platform/mailer/http-provider.js';
import { quotaWindows, unhealthyFor } from '../../src/platform/mailer/windows.js';
import type { OutgoingMail } from '../../src/platform/mailer/index.js';
import { createSmtpProvider } from '../../src/platform/mailer/smtp-provider.js';
import { startMailApi, type ApiKind, type MailApiServer } from '../helpers/mail-providers.js';
import { startMailSink, type MailSink } from '../helpers/smtp.js';

const mail: OutgoingMail = {
  from: 'Trellis <noreply@trellis.test>',
  to: 'ada@example.com',
  subject: 'Hello Ada',
  html: '<p>Hi &amp; welcome</p>',
  text: 'Hi & welcome',
};

const config = (server: MailApiServer, apiKey = server.apiKey): MailProviderConfig => ({
  name: server.kind,
  kind: server.kind,
  priority: 0,
  url: server.url,
  apiKey,
  domain: server.domain,
  from: undefined,
  dailyQuota: undefined,
  monthlyQuota: undefined,
});

/** What each API must have received: its auth header and the body fields of `mail`. */
const expectations: Record<ApiKind, (server: MailApiServer) => { headers: Record<string, string>; body: unknown }> = {
  resend: (s) => ({
    headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' },
    body: { from: mail.from, to: [mail.to], subject: mail.subject, html: mail.html, text: mail.text },
  }),
  sendgrid: (s) => ({
    headers: { authorization: `Bearer ${s.apiKey}`, 'content-type': 'application/json' },
    body: {
      personalizations: [{ to: [{ email: mail.to }] }],
      from: { email: 'noreply@trellis.test', name: 'Trellis' },
      subject: mail.subject,
      content: [
        { type: 'text/plain', value: mail.text },
        { type: 'text/html', value: mail.html },
      ],
    },
  }),
  mailgun: (s) => ({
    headers: {
      authorization: `Basic ${Buffer.from(`api:${s.apiKey}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: { from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html },
  }),
  postmark: (s) => ({
    headers: { 'x-postmark-server-token': s.apiKey, accept: 'application/json' },
    body: { From: mail.from, To: mail.to, Subject: mail.subject, HtmlBody: mail.html, TextBody: mail.text },
  }),
  brevo: (s) => ({
    headers: { 'api-key': s.apiKey, 'content-type': 'application/json' },
    body: {
      sender: { email: 'noreply@trellis.test', name: 'Trellis' },
      to: [{ email: mail.to }],
      subject: mail.subject,
      htmlContent: mail.html,
      textContent: mail.text,
    },
  }),
};

const kinds: ApiKind[] = ['resend', 'sendgrid', 'mailgun', 'postmark', 'brevo'];
const servers = new Map<ApiKind, MailApiServer>();

beforeAll(async () => {
  for (const kind of kinds) servers.set(kind, await startMailApi(kind));
});
afterAll(async () => {
  await Promise.all([...servers.values()].map((s) => s.close()));
});

describe.each(kinds)('the %s API', (kind) => {
  test('gets the mail at its endpoint with its auth header and body fields, and it counts as sent', async () => {
    const server = servers.get(kind)!;
    const before = server.accepted.length;
    const outcome = await createHttpProvider(config(server)).send(mail);
    expect(outcome).toEqual({ kind: 'sent', messageId: expect.any(String) });
    const got = server.accepted[before]!;
    const want = expectations[kind](server);
    expect(got.method).toBe('POST');
    expect(got.headers).toMatchObject(want.headers);
    expect(got.body).toEqual(want.body);
  });

  test('a wrong key (401) is the provider down, not the mail refused', async () => {
    const server = servers.get(kind)!;
    const outcome = await createHttpProvider(config(server, 'wrong-key')).send(mail);
    expect(outcome).toMatchObject({ kind: 'down', error: expect.stringContaining('401') });
  });

  test('a 500 is the provider down; a 422 refuses the mail', async () => {
    const server = servers.get(kind)!;
    try {
      server.answerWith(500);
      expect(await createHttpProvider(config(server)).send(mail)).toMatchObject({ kind: 'down' });
      server.answerWith(422, { message: 'invalid to address' });
      expect(await createHttpProvider(config(server)).send(mail)).toMatchObject({
        kind: 'rejected',
        error: expect.stringContaining('invalid to address'),
      });
    } finally {
      server.answerWith(undefined);
    }
  });
});

describe('an HTTP provider', () => {
  test('that does not answer in time, or cannot be reached, is down', async () => {
    const server = servers.get('resend')!;
    const unreachable = { ...config(server), url: 'http://127.0.0.1:1' };
    expect(await createHttpProvider(unreachable).send(mail)).toMatchObject({ kind: 'down' });
    const net = await import('node:net');
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as import('node:net').AddressInfo).port;
      const started = Date.now();
      const outcome = await createHttpProvider({ ...config(server), url: `http://127.0.0.1:${port}` }, 300).send(mail);
      expect(outcome).toMatchObject({ kind: 'down' });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      silent.close();
    }
  });
});

describe('the SMTP provider', () => {
  let sink: MailSink;
  beforeAll(async () => {
    sink = await startMailSink();
  });
  afterAll(() => sink.close());

  test('hands the mail to the SMTP server with its From, To, Subject, text and html', async () => {
    const provider = createSmtpProvider({ name: 'smtp', url: sink.url });
    try {
      expect(await provider.send(mail)).toMatchObject({ kind: 'sent' });
      const got = await sink.next(mail.to);
      expect(got.subject).toBe(mail.subject);
      expect(got.from?.value[0]).toMatchObject({ name: 'Trellis', address: 'noreply@trellis.test' });
      expect(got.text?.trim()).toBe(mail.text);
      expect(got.html).toContain(mail.html);
    } finally {
      await provider.close();
    }
  });

  test('a server that accepts the connection but never greets is down within its time limit', async () => {
    const net = await import('node:net');
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as import('node:net').AddressInfo).port;
    const provider = createSmtpProvider({ name: 'smtp', url: `smtp://127.0.0.1:${port}?greetingTimeout=300` });
    try {
      const started = Date.now();
      expect(await provider.send(mail)).toMatchObject({ kind: 'down', error: expect.stringMatching(/greeting/i) });
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await provider.close();
      silent.close();
    }
  });

  test('a 5xx to the recipient refuses the mail; a refused login is the server down', async () => {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (_auth, _session, callback) => callback(new Error('bad credentials')),
      onRcptTo(address, _session, callback) {
        if (address.address.endsWith('@refused.example')) {
          const err = new Error('no such mailbox') as Error & { responseCode: number };
          err.responseCode = 550;
          callback(err);
        } else callback();
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.server.address() as import('node:net').AddressInfo).port;
    const plain = createSmtpProvider({ name: 'smtp', url: `smtp://127.0.0.1:${port}` });
    const login = createSmtpProvider({ name: 'smtp', url: `smtp://user:pass@127.0.0.1:${port}` });
    try {
      expect(await plain.send({ ...mail, to: 'x@refused.example' })).toMatchObject({
        kind: 'rejected',
        error: expect.stringContaining('no such mailbox'),
      });
      expect(await login.send(mail)).toMatchObject({ kind: 'down' });
    } finally {
      await plain.close();
      await login.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('a server that cannot be reached is down', async () => {
    const provider = createSmtpProvider({ name: 'smtp', url: 'smtp://127.0.0.1:1' });
    try {
      expect(await provider.send(mail)).toMatchObject({ kind: 'down' });
    } finally {
      await provider.close();
    }
  });
});

describe('MAIL_PROVIDERS', () => {
  test.each([
    ['', []],
    [
      '[{"kind":"resend","api_key":"k","daily_quota":100,"priority":2},{"kind":"smtp","url":"smtp://h:25","priority":0,"name":"relay"}]',
      [
        expect.objectContaining({ name: 'relay', kind: 'smtp', priority: 0 }),
        expect.objectContaining({ name: 'resend', kind: 'resend', priority: 2, dailyQuota: 100 }),
      ],
    ],
    [
      '[{"kind":"smtp","url":"smtp://h"},{"kind":"resend","api_key":"k"},{"kind":"resend","api_key":"k2"}]',
      [
        expect.objectContaining({ name: 'smtp', priority: 0 }),
        expect.objectContaining({ name: 'resend', priority: 1 }),
        expect.objectContaining({ name: 'resend-3', priority: 2, apiKey: 'k2' }),
      ],
    ],
  ])('%s parses', (text, value) => {
    const parsed = parseMailProviders(text);
    expect(parsed).toEqual({ ok: true, value });
  });

  test.each([
    ['{"kind":"resend"}', 'must be a JSON array'],
    ['[{"kind":"pigeon"}]', 'provider 1: kind must be one of smtp, resend'],
    ['[{"kind":"resend"}]', 'provider 1: a resend provider needs api_key'],
    ['[{"kind":"mailgun","api_key":"k"}]', 'needs domain'],
    ['[{"kind":"smtp","url":"http://x"}]', 'needs url = "smtp://'],
    ['[{"kind":"brevo","api_key":"k","daily_quota":-1}]', 'daily_quota must be a whole number'],
    ['[{"kind":"brevo","api_key":"k","apikey":"x"}]', 'unknown key "apikey"'],
    ['[{"kind":"brevo","api_key":"k"},{"kind":"brevo","api_key":"k","name":"brevo"}]', 'is taken'],
    ['not json', 'must be a JSON array'],
  ])('%s is refused: %s', (text, problem) => {
    const parsed = parseMailProviders(text);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? '' : parsed.problem).toContain(problem);
  });
});

describe('the pure parts', () => {
  test.each([
    [200, 'sent'],
    [202, 'sent'],
    [400, 'rejected'],
    [401, 'down'],
    [403, 'down'],
    [404, 'rejected'],
    [408, 'down'],
    [422, 'rejected'],
    [429, 'down'],
    [500, 'down'],
    [503, 'down'],
  ])('HTTP %i is %s', (status, outcome) => expect(classifyStatus(status)).toBe(outcome));

  test.each([
    ['a@b.test', { email: 'a@b.test' }],
    ['Trellis <a@b.test>', { email: 'a@b.test', name: 'Trellis' }],
    ['"Ada L." <a@b.test>', { email: 'a@b.test', name: 'Ada L.' }],
    ['<a@b.test>', { email: 'a@b.test' }],
  ])('the sender %s is %o', (address, parts) => expect(splitAddress(address)).toEqual(parts));

  test.each([
    [
      '2026-12-31T23:59:59.999Z',
      '2026-12-31T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
      '2026-12-01T00:00:00.000Z',
      '2027-01-01T00:00:00.000Z',
    ],
    [
      '2028-02-29T12:00:00.000Z',
      '2028-02-29T00:00:00.000Z',
      '2028-03-01T00:00:00.000Z',
      '2028-02-01T00:00:00.000Z',
      '2028-03-01T00:00:00.000Z',
    ],
    [
      '2026-06-01T00:00:00.000Z',
      '2026-06-01T00:00:00.000Z',
      '2026-06-02T00:00:00.000Z',
      '2026-06-01T00:00:00.000Z',
      '2026-07-01T00:00:00.000Z',
    ],
  ])('at %s the UTC windows are its day and month', (at, day, nextDay, month, nextMonth) => {
    const w = quotaWindows(new Date(at));
    expect([w.day, w.nextDay, w.month, w.nextMonth].map((d) => d.toISOString())).toEqual([
      day,
      nextDay,
      month,
      nextMonth,
    ]);
  });

  test('a failed provider rests 30 s, doubling per failure in a row, at most 10 minutes', () => {
    expect([1, 2, 3, 5, 6, 50].map((n) => unhealthyFor(n))).toEqual([
      30_000, 60_000, 120_000, 480_000, 600_000, 600_000,
    ]);
  });
});

describe('config.toml [[mail.providers]]', () => {
  const toml = `
[[mail.providers]]
kind = "resend"
api_key = "env(RESEND_KEY)"
daily_quota = 100

[[mail.providers]]
kind = "smtp"
name = "relay"
url = "smtp://relay.test:25"
priority = 9
`;

  test('becomes MAIL_PROVIDERS, with env(NAME) replaced and no key reported unapplied', () => {
    const result = parseSupabaseToml(toml, { RESEND_KEY: 're_123' });
    if (!result.ok) throw new Error(result.problem.message);
    const raw = result.value.settings.MAIL_PROVIDERS?.raw ?? '';
    expect(JSON.parse(raw)).toEqual([
      { kind: 'resend', api_key: 're_123', daily_quota: 100 },
      { kind: 'smtp', name: 'relay', url: 'smtp://relay.test:25', priority: 9 },
    ]);
    expect(parseMailProviders(raw)).toMatchObject({ ok: true, value: [{ name: 'resend' }, { name: 'relay' }] });
    expect(result.value.unapplied.filter((k) => k.startsWith('mail'))).toEqual([]);
  });

  test.each([
    [toml, {}, 'env(RESEND_KEY): the environment variable RESEND_KEY is not set'],
    ['[mail]\nproviders = "resend"\n', {}, 'must be an array of tables ([[mail.providers]])'],
  ])('%s is refused', (text, env, problem) => {
    const result = parseSupabaseToml(text, env);
    expect(result.ok ? '' : result.problem.message).toContain(problem);
  });
});

describe('app email templates (supabase/templates)', () => {
  test('every <name>.html is a template, its subject from the first line; other files are not', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-mail-templates-'));
    try {
      await fs.writeFile(path.join(dir, 'welcome.html'), '<!-- subject: Hi {{ .name }} -->\n<p>{{ .name }}</p>\n');
      await fs.writeFile(path.join(dir, 'plain.html'), '<p>no subject line</p>');
      await fs.writeFile(path.join(dir, 'notes.txt'), 'not a template');
      await fs.writeFile(path.join(dir, 'bad name.html'), '<p>skipped</p>');
      expect(await loadAppTemplates(dir)).toEqual([
        { name: 'plain', subject: 'plain', html: '<p>no subject line</p>' },
        { name: 'welcome', subject: 'Hi {{ .name }}', html: '<p>{{ .name }}</p>\n' },
      ]);
      expect(await loadAppTemplates(path.join(dir, 'missing'))).toEqual([]);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  test('a template with more than variables ({{ if }}) is refused at start, naming the file and line', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-mail-templates-'));
    try {
      await fs.writeFile(path.join(dir, 'promo.html'), '<p>Hello</p>\n{{ if .vip }}VIP{{ end }}\n');
      await expect(loadAppTemplates(dir)).rejects.toThrow(
        /promo\.html at line 2: "\{\{ if \.vip \}\}" is not supported/,
      );
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
