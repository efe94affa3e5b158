/**
 * App email end to end below HTTP, against a real PostgreSQL and loopback providers:
 * trellis.send_email from SQL and from a trigger queues a job of the runner that renders the
 * template (HTML-escaped) and hands it to the router; failover when the first provider answers 500
 * or its daily quota is spent; every quota spent defers the mail until the next window (the router's
 * clock moved by the test), then it is sent; bad input and budgets are refused clearly.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Registry } from 'prom-client';
import { waitForValue } from '../helpers/realtime.js';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { MailProviderConfig } from '../../src/config/mail-providers.js';
import { migrate } from '../../src/db/migrate.js';
import type { Db } from '../../src/db/pool.js';
import { createJobRunner, startMailWorker, type JobRunner } from '../../src/jobs/index.js';
import { createLogger } from '../../src/platform/logger.js';
import { createMailRouter, createProviders } from '../../src/platform/mailer/index.js';
import { freshDatabase, testDb, type TestDatabase } from '../helpers/db.js';
import { startMailApi, type MailApiServer } from '../helpers/mail-providers.js';

const log = createLogger({ level: 'silent', pretty: false });
let database: TestDatabase;
let db: Db;
let sql: pg.Pool;
let templatesDir: string;
let resend: MailApiServer;
let postmark: MailApiServer;
let runner: JobRunner | undefined;
let registry: Registry;
/** The router's clock: the real one moved by this much. */
let offsetMs = 0;
const now = () => new Date(Date.now() + offsetMs);

interface LogRow {
  status: string;
  provider: string | null;
  error: string | null;
  deferred_until: Date | null;
}
const logRow = async (id: string) =>
  (await sql.query<LogRow>('select status, provider, error, deferred_until from trellis.mail_log where id = $1', [id]))
    .rows[0]!;
const statusIs = (id: string, status: string) =>
  waitForValue(`mail ${id} ${status}`, async () => {
    const row = await logRow(id);
    return row.status === status ? row : undefined;
  });
const sendEmail = async (to: string, template: string, data: unknown = {}) =>
  (
    await sql.query<{ id: string }>('select trellis.send_email($1, $2, $3)::text as id', [
      to,
      template,
      JSON.stringify(data),
    ])
  ).rows[0]!.id;

const provider = (server: MailApiServer, extra: Partial<MailProviderConfig> = {}): MailProviderConfig => ({
  name: server.kind,
  kind: server.kind,
  priority: 0,
  url: server.url,
  apiKey: server.apiKey,
  domain: undefined,
  from: undefined,
  dailyQuota: undefined,
  monthlyQuota: undefined,
  ...extra,
});

/** A runner and a router over these providers (the previous ones closed, quotas and health forgotten). */
async function serve(providers: MailProviderConfig[], unhealthyMs = 60_000): Promise<void> {
  await runner?.close(1000);
  await sql.query('truncate trellis.mail_quota_usage, trellis.mail_provider_health, trellis.mail_log');
  registry = new Registry();
  const router = createMailRouter({
    db,
    log,
    providers: createProviders({ providers, smtpUrl: undefined, db, log }),
    now,
    unhealthyMs,
    registry,
  });
  runner = await createJobRunner({ url: database.url, log, retryDelaySeconds: 1 });
  await startMailWorker({
    db,
    log,
    router,
    jobs: runner,
    templatesDir,
    from: 'Trellis <noreply@trellis.test>',
    siteUrl: 'http://app.test',
    limits: { perAddressPerDay: 5, perIpPerHour: 3, maxDataBytes: 4096 },
    now,
  });
}

beforeAll(async () => {
  database = await freshDatabase();
  db = testDb(database.url);
  const empty = await fs.mkdtemp(path.join(os.tmpdir(), 'trellis-mail-'));
  await migrate(db, empty, { dryRun: false, onProgress: () => undefined });
  templatesDir = path.join(empty, 'templates');
  await fs.mkdir(templatesDir);
  await fs.writeFile(
    path.join(templatesDir, 'welcome.html'),
    '<!-- subject: Welcome, {{ .name }} -->\n<p>Hello {{ .name }}, your plan is {{ .plan.tier }} at {{ .SiteURL }}.</p>\n',
  );
  sql = new pg.Pool({ connectionString: database.url, max: 3 });
  resend = await startMailApi('resend');
  postmark = await startMailApi('postmark');
});

afterAll(async () => {
  await runner?.close(1000);
  await Promise.allSettled([resend?.close(), postmark?.close()]);
  await sql?.end();
  await db?.close();
  await database?.drop();
});

beforeEach(() => {
  offsetMs = 0;
  resend.answerWith(undefined);
  postmark.answerWith(undefined);
});

describe('trellis.send_email', () => {
  test('from SQL: queued, rendered from supabase/templates with the data HTML-escaped, sent, its status queryable', async () => {
    await serve([provider(resend), provider(postmark)]);
    const since = resend.accepted.length;
    const id = await sendEmail('ada@example.com', 'welcome', { name: '<b>Ada & co</b>', plan: { tier: 'pro' } });
    expect(id).toMatch(/^\d+$/);
    const row = await statusIs(id, 'sent');
    expect(row).toMatchObject({ provider: 'resend', error: null });
    const got = await resend.next('ada@example.com', since);
    expect(got.body).toMatchObject({
      subject: 'Welcome, <b>Ada & co</b>',
      html: '<p>Hello &lt;b&gt;Ada &amp; co&lt;/b&gt;, your plan is pro at http://app.test.</p>\n',
      text: 'Hello <b>Ada & co</b>, your plan is pro at http://app.test.',
      from: 'Trellis <noreply@trellis.test>',
    });
    expect(postmark.accepted).toHaveLength(0);
    // service_role reads the log; anon cannot.
    const client = await sql.connect();
    try {
      await client.query('begin; set local role service_role');
      const seen = await client.query('select status, template from trellis.mail_log where id = $1', [id]);
      expect(seen.rows).toEqual([{ status: 'sent', template: 'welcome' }]);
      await client.query('rollback; begin; set local role anon');
      await expect(client.query('select * from trellis.mail_log')).rejects.toThrow(/permission denied/);
      await client.query('rollback; begin; set local role authenticated');
      await expect(client.query("select trellis.send_email('a@example.com', 'welcome')")).rejects.toThrow(
        /permission denied/,
      );
    } finally {
      await client.query('rollback');
      client.release();
    }
    const metrics = await registry.metrics();
    expect(metrics).toContain('trellis_mail_sent_total{provider="resend",outcome="sent"} 1');
  });

  test('from a trigger: an insert by a signed-in user queues the mail', async () => {
    await serve([provider(resend)]);
    await sql.query(`
      create table public.orders (id serial primary key, email text not null, item text not null);
      grant insert on public.orders to authenticated;
      grant usage on sequence public.orders_id_seq to authenticated;
      create function public.order_mail() returns trigger language plpgsql security definer
        set search_path = public as $$
      begin
        perform trellis.send_email(new.email, 'welcome', jsonb_build_object('name', new.item, 'plan', jsonb_build_object('tier', 'order')));
        return new;
      end $$;
      create trigger order_mail after insert on public.orders for each row execute function public.order_mail();`);
    const since = resend.accepted.length;
    const client = await sql.connect();
    try {
      await client.query('begin; set local role authenticated');
      await client.query("insert into public.orders (email, item) values ('grace@example.com', 'a teapot')");
      await client.query('commit');
    } finally {
      client.release();
    }
    const got = await resend.next('grace@example.com', since);
    expect(got.body).toMatchObject({ subject: 'Welcome, a teapot' });
  });
});

describe('failover', () => {
  test('the first provider answers 500: the next one sends, the first rests and is skipped', async () => {
    await serve([provider(resend), provider(postmark)]);
    resend.answerWith(500);
    const id = await sendEmail('bob@example.com', 'welcome', { name: 'Bob' });
    expect(await statusIs(id, 'sent')).toMatchObject({ provider: 'postmark' });
    const health = await sql.query(
      'select provider, failures, unhealthy_until > now() as resting from trellis.mail_provider_health',
    );
    expect(health.rows).toEqual([{ provider: 'resend', failures: 1, resting: true }]);
    // Resting: the next mail does not even try it.
    const tried = resend.requests.length;
    const second = await sendEmail('bob2@example.com', 'welcome', { name: 'Bob' });
    expect(await statusIs(second, 'sent')).toMatchObject({ provider: 'postmark' });
    expect(resend.requests.length).toBe(tried);
    expect(await registry.metrics()).toContain('trellis_mail_sent_total{provider="resend",outcome="down"} 1');
  });

  test("the first provider's daily quota is spent: the next one sends; the gauge shows what is left", async () => {
    await serve([provider(resend, { dailyQuota: 1 }), provider(postmark, { monthlyQuota: 100 })]);
    const first = await sendEmail('c1@example.com', 'welcome', { name: 'C' });
    expect(await statusIs(first, 'sent')).toMatchObject({ provider: 'resend' });
    const second = await sendEmail('c2@example.com', 'welcome', { name: 'C' });
    expect(await statusIs(second, 'sent')).toMatchObject({ provider: 'postmark' });
    const metrics = await registry.metrics();
    expect(metrics).toContain('trellis_mail_quota_remaining{provider="resend",period="day"} 0');
    expect(metrics).toContain('trellis_mail_quota_remaining{provider="postmark",period="month"} 99');
  });

  test('every quota spent: the mail is deferred (not failed, not dropped), then sent when the next day opens', async () => {
    // The router's clock 3 s before a UTC midnight.
    const real = Date.now();
    const midnight = Math.ceil(real / 86_400_000) * 86_400_000 + 86_400_000;
    offsetMs = midnight - 3000 - real;
    await serve([provider(resend, { dailyQuota: 1 }), provider(postmark, { dailyQuota: 1 })]);
    await statusIs(await sendEmail('d1@example.com', 'welcome', { name: 'D' }), 'sent');
    await statusIs(await sendEmail('d2@example.com', 'welcome', { name: 'D' }), 'sent');
    const third = await sendEmail('d3@example.com', 'welcome', { name: 'D' });
    const deferred = await statusIs(third, 'deferred');
    expect(deferred.deferred_until?.getTime()).toBe(midnight);
    expect(deferred.error).toContain("resend's daily quota is spent");
    const sent = await waitForValue('the deferred mail sent', async () => {
      const row = await logRow(third);
      return row.status === 'sent' ? row : undefined;
    });
    expect(sent.provider).toBe('resend');
    expect(now().getTime()).toBeGreaterThanOrEqual(midnight);
  });

  test('every provider down: the mail waits for its rest to end, then is sent once it is back', async () => {
    await serve([provider(resend)], 1000);
    resend.answerWith(503);
    const id = await sendEmail('e@example.com', 'welcome', { name: 'E' });
    await waitForValue('a failed try', async () => ((await logRow(id)).error ? true : undefined));
    expect((await logRow(id)).status).toBe('queued');
    resend.answerWith(undefined);
    expect(await statusIs(id, 'sent')).toMatchObject({ provider: 'resend', error: null });
  });

  test('every provider down five times: the mail fails, saying why', async () => {
    await serve([provider(resend)], 100);
    resend.answerWith(503);
    const id = await sendEmail('f@example.com', 'welcome', { name: 'F' });
    const failed = await statusIs(id, 'failed');
    expect(failed.error).toMatch(/resend answered 503.*\(5 tries\)/);
    const tries = await sql.query('select attempts from trellis.mail_log where id = $1', [id]);
    expect(tries.rows).toEqual([{ attempts: 5 }]);
  }, 30_000);
});

describe('the log', () => {
  test('keeps MAIL_LOG_RETENTION_DAYS of mails: older rows go at start (and hourly)', async () => {
    await serve([provider(resend)]);
    await sql.query(
      `insert into trellis.mail_log (recipient, template, status, created_at) values
         ('old@example.com', 'welcome', 'sent', now() - interval '40 days'),
         ('new@example.com', 'welcome', 'sent', now() - interval '20 days')`,
    );
    await startMailWorker({
      db,
      log,
      router: createMailRouter({ db, log, providers: [] }),
      jobs: runner!,
      templatesDir,
      from: 'a@trellis.test',
      siteUrl: 'http://app.test',
      limits: { perAddressPerDay: 5, perIpPerHour: 3, maxDataBytes: 4096 },
      logRetentionDays: 30,
    });
    const left = await waitForValue('the purge', async () => {
      const { rows } = await sql.query<{ recipient: string }>(
        'select recipient from trellis.mail_log order by recipient',
      );
      return rows.length === 1 ? rows : undefined;
    });
    expect(left).toEqual([{ recipient: 'new@example.com' }]);
  });
});

describe('quotas across instances', () => {
  test('two routers on one database sending at once never spend more than a quota', async () => {
    await serve([provider(resend)]);
    const routers = [1, 2].map(() =>
      createMailRouter({
        db,
        log,
        providers: createProviders({
          providers: [provider(resend, { dailyQuota: 20 }), provider(postmark)],
          smtpUrl: undefined,
          db,
          log,
        }),
        now,
      }),
    );
    const outcomes = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        routers[i % 2]!.send({ from: 'a@trellis.test', to: `q${i}@example.com`, subject: 's', html: 'h', text: 't' }),
      ),
    );
    const by = (name: string) => outcomes.filter((o) => o.kind === 'sent' && o.provider === name).length;
    expect(by('resend')).toBe(20);
    expect(by('postmark')).toBe(40);
  });

  test('throughput: 200 mails from SQL to sent through a loopback provider', async () => {
    await serve([provider(resend)]);
    const started = performance.now();
    await sql.query(
      "select trellis.send_email('t' || n || '@example.com', 'welcome', jsonb_build_object('name', 'T' || n)) from generate_series(1, 200) n",
    );
    await waitForValue(
      '200 mails sent',
      async () => {
        const { rows } = await sql.query<{ n: number }>(
          "select count(*)::int as n from trellis.mail_log where status = 'sent'",
        );
        return rows[0]!.n >= 200 ? true : undefined;
      },
      60_000,
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(
      `mail throughput: 200 mails queued and sent in ${seconds.toFixed(2)} s (${(200 / seconds).toFixed(0)}/s)`,
    );
  }, 70_000);
});

describe('bad input is refused with a clear error', () => {
  const refused = async (query: string, values: unknown[], pattern: RegExp, code: string) => {
    const err = await sql.query(query, values).then(
      () => undefined,
      (e: unknown) => e as { message: string; code: string },
    );
    expect(err?.message).toMatch(pattern);
    expect(err?.code).toBe(code);
  };

  test.each([
    ['no such template', ['a@example.com', 'nope', '{}'], /no template named 'nope'/, '22023'],
    ['a bad address', ['not an address', 'welcome', '{}'], /'not an address' is not an email address/, '22023'],
    ['a display name', ['Ada <a@example.com>', 'welcome', '{}'], /is not an email address/, '22023'],
    ['two addresses', ['a@example.com,b@example.com', 'welcome', '{}'], /is not an email address/, '22023'],
    [
      'data that is not an object',
      ['a@example.com', 'welcome', '[1]'],
      /data must be a JSON object, not array/,
      '22023',
    ],
    [
      'huge data',
      ['a@example.com', 'welcome', JSON.stringify({ x: 'y'.repeat(5000) })],
      /more than the 4096 allowed/,
      '54000',
    ],
    [
      'a NUL byte in the data',
      ['a@example.com', 'welcome', '{"x":"a\\u0000b"}'],
      /\\u0000 cannot be converted to text|unsupported Unicode escape/,
      '22P05',
    ],
  ])('%s', async (_name, values, pattern, code) => {
    await refused('select trellis.send_email($1, $2, $3::jsonb)', values, pattern, code);
  });

  test('a NUL byte in the address never reaches SQL text', async () => {
    await refused('select trellis.send_email($1, $2)', ['a\u0000@example.com', 'welcome'], /0x00/, '22021');
  });

  test('the per-address budget (5 a day) and the per-IP budget (3 an hour) refuse more', async () => {
    await serve([provider(resend)]);
    for (let i = 0; i < 5; i++) await sendEmail('Flood@example.com', 'welcome', { name: 'F' });
    await refused(
      'select trellis.send_email($1, $2)',
      ['flood@example.com', 'welcome'],
      /flood@example.com already has 5 mails in the last 24 hours/,
      '53400',
    );
    const client = await sql.connect();
    try {
      const fromIp = async (to: string) => {
        await client.query('begin');
        // As the data API sets it per request (the address Trellis read, TRUST_PROXY or not).
        await client.query("select set_config('trellis.client_ip', '203.0.113.9', true)");
        try {
          await client.query("select trellis.send_email($1, 'welcome')", [to]);
          await client.query('commit');
        } catch (err) {
          await client.query('rollback');
          throw err;
        }
      };
      for (let i = 0; i < 3; i++) await fromIp(`ip${i}@example.com`);
      await expect(fromIp('ip9@example.com')).rejects.toThrow(/the client 203.0.113.9 already caused 3 mails/);
    } finally {
      client.release();
    }
  });
});
