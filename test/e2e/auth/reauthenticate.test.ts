/**
 * Reauthentication through supabase-js: `reauthenticate()` mails a nonce (a real SMTP server
 * receives it), and with AUTH_SECURE_PASSWORD_CHANGE on, `updateUser({ password, nonce })` from a
 * session older than a day needs it: GoTrue's reauthentication_needed / reauthentication_not_valid.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { linkAndCode, startMailSink, type MailSink } from '../../helpers/smtp.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let sink: MailSink;
let n = 0;

beforeAll(async () => {
  sink = await startMailSink();
  server = await startTestServer({ env: { SMTP_URL: sink.url, AUTH_SECURE_PASSWORD_CHANGE: 'true' } });
});
afterAll(async () => {
  await server?.stop();
  await sink?.close();
});

/** A signed-in user whose session began two days ago, so a password change needs a nonce. */
async function oldSession(): Promise<{ supabase: SupabaseClient; email: string }> {
  const email = `re${++n}@example.com`;
  const supabase = supabaseClient(server);
  const { data, error } = await supabase.auth.signUp({ email, password: 'first password' });
  if (error) throw error;
  await server.sql.query(`update auth.sessions set created_at = now() - interval '2 days' where user_id = $1`, [
    data.user?.id,
  ]);
  return { supabase, email };
}

async function nonce(supabase: SupabaseClient, email: string): Promise<string> {
  const since = sink.mails.length;
  const { data, error } = await supabase.auth.reauthenticate();
  expect(error).toBeNull();
  expect(data).toEqual({ user: null, session: null });
  const mail = await sink.next(email, since);
  expect(mail.subject).toBe('Confirm reauthentication');
  return linkAndCode(mail).code as string;
}

describe('secure password change', () => {
  test('without a nonce: 400 reauthentication_needed, and the password stays', async () => {
    const { supabase, email } = await oldSession();
    const { error } = await supabase.auth.updateUser({ password: 'second password' });
    expect(error).toMatchObject({ status: 400, code: 'reauthentication_needed' });
    const again = await supabaseClient(server).auth.signInWithPassword({ email, password: 'first password' });
    expect(again.error).toBeNull();
  });

  test('the mailed nonce changes the password, once', async () => {
    const { supabase, email } = await oldSession();
    const code = await nonce(supabase, email);
    expect(code).toMatch(/^\d{6}$/);
    const { error } = await supabase.auth.updateUser({ password: 'second password', nonce: code });
    expect(error).toBeNull();
    const signIn = await supabaseClient(server).auth.signInWithPassword({ email, password: 'second password' });
    expect(signIn.error).toBeNull();
    const reused = await supabase.auth.updateUser({ password: 'third password', nonce: code });
    expect(reused.error).toMatchObject({ status: 422, code: 'reauthentication_not_valid' });
  });

  test.each([
    ['a wrong nonce', '000000'],
    ['a NUL byte', '12\u00003456'],
    ['a huge value', '9'.repeat(100_000)],
  ])('%s is 4xx and changes nothing', async (_name, bad) => {
    const { supabase, email } = await oldSession();
    const code = await nonce(supabase, email);
    const { error } = await supabase.auth.updateUser({ password: 'second password', nonce: code === bad ? '1' : bad });
    expect(error?.status).toBeGreaterThanOrEqual(400);
    expect(error?.status).toBeLessThan(500);
    // The right nonce still works afterwards.
    expect((await supabase.auth.updateUser({ password: 'second password', nonce: code })).error).toBeNull();
  });

  test('an expired nonce is reauthentication_not_valid', async () => {
    const { supabase, email } = await oldSession();
    const code = await nonce(supabase, email);
    await server.sql.query(
      `update auth.users set reauthentication_sent_at = now() - interval '2 hours' where email = $1`,
      [email],
    );
    const { error } = await supabase.auth.updateUser({ password: 'second password', nonce: code });
    expect(error).toMatchObject({ status: 422, code: 'reauthentication_not_valid' });
  });

  test('a session from the last 24 hours needs no nonce (GoTrue’s rule)', async () => {
    const supabase = supabaseClient(server);
    await supabase.auth.signUp({ email: `fresh${++n}@example.com`, password: 'first password' });
    expect((await supabase.auth.updateUser({ password: 'second password' })).error).toBeNull();
  });
});

describe('GET /reauthenticate', () => {
  test('no token is 401; a forged one 403', async () => {
    const get = (auth?: string) =>
      fetch(`${server.url}/auth/v1/reauthenticate`, {
        headers: { apikey: server.anonKey, ...(auth ? { authorization: auth } : {}) },
      });
    expect((await get()).status).toBe(401);
    expect((await get('Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).status).toBe(403);
  });

  test('an unconfirmed address gets 422 email_not_confirmed', async () => {
    const unconfirmed = await startTestServer({ env: { SMTP_URL: sink.url, AUTH_EMAIL_CONFIRMATION: 'true' } });
    try {
      const admin = supabaseClient(unconfirmed, unconfirmed.serviceRoleKey);
      await admin.auth.admin.createUser({ email: 'unc@example.com', password: 'unc password', email_confirm: true });
      const supabase = supabaseClient(unconfirmed);
      await supabase.auth.signInWithPassword({ email: 'unc@example.com', password: 'unc password' });
      await unconfirmed.sql.query(`update auth.users set email_confirmed_at = null where email = 'unc@example.com'`);
      const { error } = await supabase.auth.reauthenticate();
      expect(error).toMatchObject({ status: 422, code: 'email_not_confirmed' });
    } finally {
      await unconfirmed.stop();
    }
  });
});
