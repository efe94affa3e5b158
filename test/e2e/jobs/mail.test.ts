/**
 * App email and auth's mails through a started server and supabase-js, with the providers of
 * config.toml's [[mail.providers]] on loopback: a sign-up's confirmation mail goes through the
 * HTTP provider (the first one down: the second), a project function calling trellis.send_email
 * through rpc sends a template of supabase/templates, and both are in trellis.mail_log.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startMailApi, type MailApiServer } from '../../helpers/mail-providers.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let brevo: MailApiServer;
let sendgrid: MailApiServer;

beforeAll(async () => {
  brevo = await startMailApi('brevo');
  sendgrid = await startMailApi('sendgrid');
  process.env.TEST_BREVO_KEY = brevo.apiKey;
  server = await startTestServer({
    env: { AUTH_EMAIL_CONFIRMATION: 'true', TEST_BREVO_KEY: brevo.apiKey },
    files: {
      'supabase/config.toml': `
[[mail.providers]]
kind = "brevo"
url = "${brevo.url}"
api_key = "env(TEST_BREVO_KEY)"
daily_quota = 300

[[mail.providers]]
kind = "sendgrid"
url = "${sendgrid.url}"
api_key = "${sendgrid.apiKey}"
monthly_quota = 3000
`,
    },
    templates: { 'receipt.html': '<!-- subject: Your receipt {{ .number }} -->\n<p>Total: {{ .total }}</p>\n' },
    migrations: {
      '20240101000000_mail.sql': `
create function public.mail_receipt(email text, number int, total text) returns bigint
language sql security definer set search_path = public as $$
  select trellis.send_email(email, 'receipt', jsonb_build_object('number', number, 'total', total));
$$;
revoke execute on function public.mail_receipt(text, int, text) from public, anon, authenticated;
grant execute on function public.mail_receipt(text, int, text) to service_role;`,
    },
  });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await Promise.allSettled([brevo?.close(), sendgrid?.close()]);
  delete process.env.TEST_BREVO_KEY;
});

describe('mail through the providers of config.toml', () => {
  test("a sign-up's confirmation mail goes through the HTTP provider, and is in trellis.mail_log", async () => {
    const client = supabaseClient(server);
    const since = brevo.accepted.length;
    const { error } = await client.auth.signUp({ email: 'ada@example.com', password: 'a-long-password-1' });
    expect(error).toBeNull();
    const got = await brevo.next('ada@example.com', since);
    expect(got.headers['api-key']).toBe(brevo.apiKey);
    expect(got.body).toMatchObject({ subject: 'Confirm Your Signup' });
    expect(String(got.body.htmlContent)).toMatch(/\/auth\/v1\/verify\?token=/);
    const logged = await server.sql.query(
      "select source, template, status, provider from trellis.mail_log where recipient = 'ada@example.com'",
    );
    expect(logged.rows).toEqual([{ source: 'auth', template: 'confirmation', status: 'sent', provider: 'brevo' }]);
  });

  test('the first provider down (500): the confirmation mail goes through the second', async () => {
    brevo.answerWith(500);
    try {
      const since = sendgrid.accepted.length;
      const { error } = await supabaseClient(server).auth.signUp({
        email: 'bob@example.com',
        password: 'a-long-password-1',
      });
      expect(error).toBeNull();
      const got = await sendgrid.next('bob@example.com', since);
      expect(got.headers.authorization).toBe(`Bearer ${sendgrid.apiKey}`);
    } finally {
      brevo.answerWith(undefined);
    }
  });

  test('a project function calling trellis.send_email through rpc sends a template of supabase/templates', async () => {
    const admin = supabaseClient(server, server.serviceRoleKey);
    const { data: id, error } = await admin.rpc('mail_receipt', {
      email: 'grace@example.com',
      number: 7,
      total: '<€12>',
    });
    expect(error).toBeNull();
    expect(typeof id).toBe('number');
    // brevo rests after the 500 above; whichever provider is up sends it.
    const got = await Promise.any([brevo.next('grace@example.com'), sendgrid.next('grace@example.com')]);
    expect(JSON.stringify(got.body)).toContain('Your receipt 7');
    expect(JSON.stringify(got.body)).toContain('Total: &lt;€12&gt;');
    // The row says sent once the provider's answer is in.
    let row: unknown[] = [];
    for (let i = 0; i < 100; i++) {
      row = (await server.sql.query('select status, template from trellis.mail_log where id = $1', [id])).rows;
      if ((row[0] as { status?: string } | undefined)?.status === 'sent') break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(row).toEqual([{ status: 'sent', template: 'receipt' }]);
    // The per-IP budget counts the address Trellis read: without TRUST_PROXY a forged
    // X-Forwarded-For is not taken for it (the socket's peer is).
    const second = await fetch(`${server.url}/rest/v1/rpc/mail_receipt`, {
      method: 'POST',
      headers: {
        apikey: server.serviceRoleKey,
        authorization: `Bearer ${server.serviceRoleKey}`,
        'content-type': 'application/json',
        'x-forwarded-for': '203.0.113.77',
      },
      body: JSON.stringify({ email: 'ip@example.com', number: 8, total: '1' }),
    });
    expect(second.status).toBe(200);
    const ips = await server.sql.query('select client_ip from trellis.mail_log where id = $1', [await second.json()]);
    expect(ips.rows).toEqual([{ client_ip: '127.0.0.1' }]);
    // Not for anonymous callers.
    const anon = await supabaseClient(server).rpc('mail_receipt', { email: 'x@example.com', number: 1, total: '1' });
    expect(anon.error?.code).toBe('42501');
    // A bad address through the same door: a 400 naming it.
    const bad = await admin.rpc('mail_receipt', { email: 'not-an-address', number: 1, total: '1' });
    expect(bad.error?.message).toContain("'not-an-address' is not an email address");
    // /metrics counts the mails by provider and outcome.
    const metrics = await (
      await fetch(`${server.url}/metrics`, {
        headers: { apikey: server.serviceRoleKey, authorization: `Bearer ${server.serviceRoleKey}` },
      })
    ).text();
    expect(metrics).toMatch(/trellis_mail_sent_total\{provider="brevo",outcome="down"\} 1/);
    expect(metrics).toMatch(/trellis_mail_quota_remaining\{provider="brevo",period="day"\} \d+/);
  });

  test('every provider down: the sign-up answers the mail error, and the log says failed', async () => {
    brevo.answerWith(500);
    sendgrid.answerWith(503);
    try {
      const { error } = await supabaseClient(server).auth.signUp({
        email: 'eve@example.com',
        password: 'a-long-password-1',
      });
      expect(error?.status).toBe(500);
      const row = await server.sql.query(
        "select status, error from trellis.mail_log where recipient = 'eve@example.com' and source = 'auth'",
      );
      expect(row.rows).toEqual([{ status: 'failed', error: expect.stringContaining('sendgrid answered 503') }]);
    } finally {
      brevo.answerWith(undefined);
      sendgrid.answerWith(undefined);
    }
  });
});
