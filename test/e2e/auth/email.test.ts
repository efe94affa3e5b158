/**
 * Email flows through supabase-js with confirmation on and a real SMTP server receiving the mail:
 * sign-up confirmation (link and code), resend, recovery, magic link and code, email change, and
 * the one-time nature of every link and code.
 */
import type { SupabaseClient } from '@supabase/supabase-js';
import type { ParsedMail } from 'mailparser';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../helpers/cli.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { linkAndCode, startMailSink, type MailSink } from '../../helpers/smtp.js';

// Project overrides of the built-in templates (the subject line and {{ .Data.name }} included).
const TEMPLATES: Record<string, string> = {
  'confirmation.html': `<!-- subject: Confirm your email, {{ .Data.name }} -->
<h2>Confirm your email</h2>
<p>Follow this link to confirm your email:</p>
<p><a href="{{ .ConfirmationURL }}">Confirm your email address</a></p>
<p>Alternatively, enter the code: {{ .Token }}</p>
`,
  'email_change.html': `<h2>Confirm email address change</h2>
<p>Follow this link to confirm the update of your email address from {{ .Email }} to {{ .NewEmail }}:</p>
<p><a href="{{ .ConfirmationURL }}">Change email address</a></p>
<p>Alternatively, enter the code: {{ .Token }}</p>
`,
  'recovery.html': `<h2>Reset password</h2>
<p>Follow this link to reset the password for your user:</p>
<p><a href="{{ .ConfirmationURL }}">Reset password</a></p>
<p>Alternatively, enter the code: {{ .Token }}</p>
`,
};

let server: TestServer;
let sink: MailSink;
// Clients keep no session and never refresh on their own (see supabaseClient).
const client = (): SupabaseClient => supabaseClient(server);

beforeAll(async () => {
  sink = await startMailSink();
  server = await startTestServer({
    env: {
      AUTH_EMAIL_CONFIRMATION: 'true',
      AUTH_ANONYMOUS_SIGN_INS: 'true',
      SMTP_URL: sink.url,
      AUTH_RATE_LIMIT_EMAIL_SENT: '1000',
    },
    templates: TEMPLATES,
  });
});
afterAll(async () => {
  await server?.stop();
  await sink?.close();
});

/** Runs `action` and returns the mail it caused to `to`. */
async function mailFrom(to: string, action: () => Promise<unknown>): Promise<ParsedMail> {
  const since = sink.mails.length;
  await action();
  return sink.next(to, since);
}

function linkOf(mail: ParsedMail): URL {
  const { link } = linkAndCode(mail);
  expect(link, `a verification link in: ${mail.text}`).toBeTruthy();
  return new URL(link ?? '');
}

function codeOf(mail: ParsedMail): string {
  const code = /enter the code: (\d{6})\b/.exec(mail.text ?? '')?.[1];
  expect(code, `a 6-digit code in: ${mail.text}`).toBeTruthy();
  return code ?? '';
}

/** Follows a mailed link as a browser would, without following the redirect. */
async function follow(link: URL): Promise<{ status: number; location: string; fragment: URLSearchParams }> {
  const response = await fetch(link, { redirect: 'manual' });
  const location = response.headers.get('location') ?? '';
  return { status: response.status, location, fragment: new URLSearchParams(location.split('#')[1] ?? '') };
}

async function userRow(email: string) {
  return (
    await server.sql.query('select id, email, email_confirmed_at, email_change from auth.users where email = $1', [
      email,
    ])
  ).rows[0];
}

describe('sign-up with email confirmation', () => {
  test('returns a user and no session, mails a link, and the link signs the user in once', async () => {
    const supabase = client();
    let signUp: Awaited<ReturnType<SupabaseClient['auth']['signUp']>> | undefined;
    const mail = await mailFrom('carol@example.com', async () => {
      signUp = await supabase.auth.signUp({
        email: 'carol@example.com',
        password: 'carol password',
        options: { data: { name: 'Carol' }, emailRedirectTo: `${server.url}/welcome` },
      });
    });
    expect(signUp?.error).toBeNull();
    expect(signUp?.data.session).toBeNull();
    expect(signUp?.data.user?.email).toBe('carol@example.com');
    expect(signUp?.data.user?.email_confirmed_at).toBeUndefined();
    expect(signUp?.data.user?.confirmation_sent_at).toBeTruthy();
    expect(mail.subject).toBe('Confirm your email, Carol');

    // Not confirmed yet: no password sign-in.
    const early = await client().auth.signInWithPassword({ email: 'carol@example.com', password: 'carol password' });
    expect(early.error?.code).toBe('email_not_confirmed');
    expect(early.error?.status).toBe(400);

    const link = linkOf(mail);
    expect(link.searchParams.get('type')).toBe('signup');
    const first = await follow(link);
    expect(first.status).toBe(303);
    expect(first.location.startsWith(`${server.url}/welcome#`)).toBe(true);
    expect(first.fragment.get('type')).toBe('signup');
    expect(first.fragment.get('token_type')).toBe('bearer');
    expect(first.fragment.get('refresh_token')).toBeTruthy();
    const claims = decodeJwt(first.fragment.get('access_token') ?? '');
    expect(claims.email).toBe('carol@example.com');
    expect(claims.sub).toBe(signUp?.data.user?.id);
    expect((await userRow('carol@example.com'))?.email_confirmed_at).toBeInstanceOf(Date);

    // The session in the fragment is a real one.
    const session = await client().auth.setSession({
      access_token: first.fragment.get('access_token') ?? '',
      refresh_token: first.fragment.get('refresh_token') ?? '',
    });
    expect(session.error).toBeNull();
    expect(session.data.user?.email).toBe('carol@example.com');

    // A link works once.
    const replay = await follow(link);
    expect(replay.status).toBe(303);
    expect(replay.fragment.get('error_code')).toBe('otp_expired');
    expect(replay.fragment.get('access_token')).toBeNull();

    expect(
      (await client().auth.signInWithPassword({ email: 'carol@example.com', password: 'carol password' })).error,
    ).toBeNull();
  });

  test('the mailed code confirms through verifyOtp type signup, once', async () => {
    const mail = await mailFrom('dave@example.com', () =>
      client().auth.signUp({ email: 'dave@example.com', password: 'dave password' }),
    );
    const code = codeOf(mail);
    const wrong = await client().auth.verifyOtp({
      email: 'dave@example.com',
      token: code === '000000' ? '111111' : '000000',
      type: 'signup',
    });
    expect(wrong.error?.code).toBe('otp_expired');
    expect(wrong.error?.status).toBe(403);

    const supabase = client();
    const verified = await supabase.auth.verifyOtp({ email: 'Dave@Example.com', token: code, type: 'signup' });
    expect(verified.error).toBeNull();
    expect(verified.data.session?.access_token).toBeTruthy();
    expect(verified.data.user?.email_confirmed_at).toBeTruthy();
    expect((await supabase.auth.getUser()).data.user?.email).toBe('dave@example.com');

    const replay = await client().auth.verifyOtp({ email: 'dave@example.com', token: code, type: 'signup' });
    expect(replay.error?.code).toBe('otp_expired');
  });

  test('verifyOtp type email accepts the sign-up code too', async () => {
    const mail = await mailFrom('erin@example.com', () =>
      client().auth.signUp({ email: 'erin@example.com', password: 'erin password' }),
    );
    const verified = await client().auth.verifyOtp({ email: 'erin@example.com', token: codeOf(mail), type: 'email' });
    expect(verified.error).toBeNull();
    expect(verified.data.session).not.toBeNull();
  });

  test('resend mails a new link; the earlier one no longer works', async () => {
    const firstMail = await mailFrom('frank@example.com', () =>
      client().auth.signUp({ email: 'frank@example.com', password: 'frank password' }),
    );
    let resent: { error: unknown } | undefined;
    const secondMail = await mailFrom('frank@example.com', async () => {
      resent = await client().auth.resend({ type: 'signup', email: 'frank@example.com' });
    });
    expect(resent?.error).toBeNull();
    const stale = await follow(linkOf(firstMail));
    expect(stale.fragment.get('error_code')).toBe('otp_expired');
    const fresh = await follow(linkOf(secondMail));
    expect(fresh.fragment.get('access_token')).toBeTruthy();
  });

  test('an expired code is refused', async () => {
    const mail = await mailFrom('gina@example.com', () =>
      client().auth.signUp({ email: 'gina@example.com', password: 'gina password' }),
    );
    await server.sql.query(
      `update auth.one_time_tokens set expires_at = now() - interval '1 second' where user_id = (select id from auth.users where email = 'gina@example.com')`,
    );
    const { error } = await client().auth.verifyOtp({ email: 'gina@example.com', token: codeOf(mail), type: 'signup' });
    expect(error?.code).toBe('otp_expired');
    expect((await userRow('gina@example.com'))?.email_confirmed_at).toBeNull();
  });

  test('signing up again with a confirmed address reveals nothing and sends nothing', async () => {
    const since = sink.mails.length;
    const { data, error } = await client().auth.signUp({ email: 'carol@example.com', password: 'other password' });
    expect(error).toBeNull();
    expect(data.session).toBeNull();
    expect(data.user?.identities).toEqual([]);
    expect(
      (await client().auth.signInWithPassword({ email: 'carol@example.com', password: 'other password' })).error?.code,
    ).toBe('invalid_credentials');
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.mails.slice(since).length).toBe(0);
  });
});

describe('password recovery', () => {
  test('resetPasswordForEmail → code → verifyOtp recovery → updateUser password → sign in', async () => {
    const mail = await mailFrom('carol@example.com', async () => {
      const { error } = await client().auth.resetPasswordForEmail('carol@example.com', {
        redirectTo: `${server.url}/reset`,
      });
      expect(error).toBeNull();
    });
    expect(mail.subject).toBe('Reset Your Password');
    expect(linkOf(mail).searchParams.get('redirect_to')).toBe(`${server.url}/reset`);
    const supabase = client();
    const verified = await supabase.auth.verifyOtp({
      email: 'carol@example.com',
      token: codeOf(mail),
      type: 'recovery',
    });
    expect(verified.error).toBeNull();
    expect(decodeJwt(verified.data.session?.access_token ?? '').amr).toEqual([
      expect.objectContaining({ method: 'recovery' }),
    ]);
    expect((await supabase.auth.updateUser({ password: 'new carol password' })).error).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'carol@example.com', password: 'new carol password' })).error,
    ).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'carol@example.com', password: 'carol password' })).error?.code,
    ).toBe('invalid_credentials');
  });

  test('the recovery link works through its token hash, and once', async () => {
    const mail = await mailFrom('dave@example.com', () => client().auth.resetPasswordForEmail('dave@example.com'));
    const tokenHash = linkOf(mail).searchParams.get('token') ?? '';
    const verified = await client().auth.verifyOtp({ token_hash: tokenHash, type: 'recovery' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email).toBe('dave@example.com');
    const replay = await client().auth.verifyOtp({ token_hash: tokenHash, type: 'recovery' });
    expect(replay.error?.code).toBe('otp_expired');
  });

  test('an unknown address gets the same answer and no mail', async () => {
    const since = sink.mails.length;
    const { error } = await client().auth.resetPasswordForEmail('nobody@example.com');
    expect(error).toBeNull();
    await new Promise((r) => setTimeout(r, 200));
    expect(sink.mails.slice(since).length).toBe(0);
  });

  test('a recovery code also verifies as type email, as on GoTrue, but not as signup', async () => {
    const mail = await mailFrom('erin@example.com', () => client().auth.resetPasswordForEmail('erin@example.com'));
    const asSignup = await client().auth.verifyOtp({ email: 'erin@example.com', token: codeOf(mail), type: 'signup' });
    expect(asSignup.error?.code).toBe('otp_expired');
    const asEmail = await client().auth.verifyOtp({ email: 'erin@example.com', token: codeOf(mail), type: 'email' });
    expect(asEmail.error).toBeNull();
    expect(asEmail.data.user?.email).toBe('erin@example.com');
  });
});

describe('magic links and email codes', () => {
  test('signInWithOtp mails a link and a code; the code signs in once', async () => {
    const mail = await mailFrom('dave@example.com', async () => {
      const { error } = await client().auth.signInWithOtp({ email: 'dave@example.com' });
      expect(error).toBeNull();
    });
    expect(mail.subject).toBe('Your Magic Link');
    const { code } = linkAndCode(mail);
    expect(code).toMatch(/^\d{6}$/);
    const supabase = client();
    const verified = await supabase.auth.verifyOtp({ email: 'dave@example.com', token: code ?? '', type: 'email' });
    expect(verified.error).toBeNull();
    expect(decodeJwt(verified.data.session?.access_token ?? '').amr).toEqual([
      expect.objectContaining({ method: 'magiclink' }),
    ]);
    expect(
      (await client().auth.verifyOtp({ email: 'dave@example.com', token: code ?? '', type: 'email' })).error?.code,
    ).toBe('otp_expired');
  });

  test('the magic link works through verifyOtp with its token hash, and through the browser', async () => {
    const first = await mailFrom('dave@example.com', () => client().auth.signInWithOtp({ email: 'dave@example.com' }));
    const hash = linkOf(first).searchParams.get('token') ?? '';
    const byHash = await client().auth.verifyOtp({ token_hash: hash, type: 'email' });
    expect(byHash.error).toBeNull();
    expect(byHash.data.user?.email).toBe('dave@example.com');

    const second = await mailFrom('dave@example.com', () => client().auth.signInWithOtp({ email: 'dave@example.com' }));
    const link = linkOf(second);
    expect(link.searchParams.get('type')).toBe('magiclink');
    const opened = await follow(link);
    expect(opened.status).toBe(303);
    expect(opened.fragment.get('type')).toBe('magiclink');
    expect(decodeJwt(opened.fragment.get('access_token') ?? '').email).toBe('dave@example.com');
    expect((await follow(link)).fragment.get('error_code')).toBe('otp_expired');
  });

  test('shouldCreateUser false refuses an unknown address and creates nothing', async () => {
    const { error } = await client().auth.signInWithOtp({
      email: 'stranger@example.com',
      options: { shouldCreateUser: false },
    });
    expect(error?.status).toBe(422);
    expect(error?.code).toBe('otp_disabled');
    expect(await userRow('stranger@example.com')).toBeUndefined();
  });

  test('an address that has not confirmed its sign-up gets the confirmation mail again', async () => {
    await mailFrom('jack@example.com', () =>
      client().auth.signUp({ email: 'jack@example.com', password: 'jack password' }),
    );
    const refused = await client().auth.signInWithOtp({
      email: 'jack@example.com',
      options: { shouldCreateUser: false },
    });
    expect(refused.error?.code).toBe('otp_disabled');
    const mail = await mailFrom('jack@example.com', () => client().auth.signInWithOtp({ email: 'jack@example.com' }));
    expect(mail.subject).toMatch(/^Confirm your email/);
    expect(
      (await client().auth.verifyOtp({ email: 'jack@example.com', token: codeOf(mail), type: 'email' })).error,
    ).toBeNull();
    // Unlike GoTrue, the unconfirmed sign-up's password does not survive a confirmation by code:
    // whoever chose it never proved the address (see the pre-account-hijack test below).
    expect(
      (await client().auth.signInWithPassword({ email: 'jack@example.com', password: 'jack password' })).error?.code,
    ).toBe('invalid_credentials');
  });

  test('an unknown address signs up through the code it is mailed', async () => {
    const mail = await mailFrom('hana@example.com', async () => {
      const { error } = await client().auth.signInWithOtp({
        email: 'hana@example.com',
        options: { data: { name: 'Hana' } },
      });
      expect(error).toBeNull();
    });
    expect(mail.subject).toBe('Confirm your email, Hana');
    const verified = await client().auth.verifyOtp({ email: 'hana@example.com', token: codeOf(mail), type: 'email' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.user_metadata).toEqual({ name: 'Hana' });
    expect(verified.data.user?.email_confirmed_at).toBeTruthy();
  });
});

describe('email change with confirmation', () => {
  test('mails the new address; verifying switches the email; sign-in uses the new one', async () => {
    const supabase = client();
    expect(
      (await supabase.auth.signInWithPassword({ email: 'erin@example.com', password: 'erin password' })).error,
    ).toBeNull();
    let updated: Awaited<ReturnType<SupabaseClient['auth']['updateUser']>> | undefined;
    const mail = await mailFrom('erin.new@example.com', async () => {
      updated = await supabase.auth.updateUser({ email: 'Erin.New@example.com' });
    });
    expect(updated?.error).toBeNull();
    expect(updated?.data.user?.email).toBe('erin@example.com');
    expect(updated?.data.user?.new_email).toBe('erin.new@example.com');
    expect(mail.text).toContain('from erin@example.com to erin.new@example.com');
    expect(codeOf(mail)).toMatch(/^\d{6}$/);
    expect((await userRow('erin@example.com'))?.email_change).toBe('erin.new@example.com');

    const tokenHash = linkOf(mail).searchParams.get('token') ?? '';
    const verified = await client().auth.verifyOtp({ token_hash: tokenHash, type: 'email_change' });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email).toBe('erin.new@example.com');
    expect(verified.data.user?.new_email).toBeUndefined();
    expect((await client().auth.verifyOtp({ token_hash: tokenHash, type: 'email_change' })).error?.code).toBe(
      'otp_expired',
    );

    expect(
      (await client().auth.signInWithPassword({ email: 'erin.new@example.com', password: 'erin password' })).error,
    ).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'erin@example.com', password: 'erin password' })).error?.code,
    ).toBe('invalid_credentials');
    const identity = await server.sql.query(
      `select identity_data ->> 'email' as email from auth.identities where provider = 'email' and email = 'erin.new@example.com'`,
    );
    expect(identity.rowCount).toBe(1);
  });

  test('the email-change link opened in a browser confirms the change', async () => {
    const supabase = client();
    // Hana signed up without a password: a magic link signs her in, then she changes her address.
    const magic = await mailFrom('hana@example.com', () => client().auth.signInWithOtp({ email: 'hana@example.com' }));
    expect(
      (
        await supabase.auth.verifyOtp({
          email: 'hana@example.com',
          token: linkAndCode(magic).code ?? '',
          type: 'email',
        })
      ).error,
    ).toBeNull();
    const mail = await mailFrom('hana2@example.com', () => supabase.auth.updateUser({ email: 'hana2@example.com' }));
    const opened = await follow(linkOf(mail));
    expect(opened.fragment.get('type')).toBe('email_change');
    expect(decodeJwt(opened.fragment.get('access_token') ?? '').email).toBe('hana2@example.com');
  });

  test('the email-change code verifies with the current address too, as GoTrue allows', async () => {
    const supabase = client();
    expect(
      (await supabase.auth.signInWithPassword({ email: 'dave@example.com', password: 'dave password' })).error,
    ).toBeNull();
    const mail = await mailFrom('dave.new@example.com', () =>
      supabase.auth.updateUser({ email: 'dave.new@example.com' }),
    );
    const verified = await client().auth.verifyOtp({
      email: 'dave@example.com',
      token: codeOf(mail),
      type: 'email_change',
    });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email).toBe('dave.new@example.com');
  });

  test('an anonymous user who confirms an email becomes a permanent user', async () => {
    const supabase = client();
    const anonymous = await supabase.auth.signInAnonymously();
    expect(anonymous.error).toBeNull();
    const mail = await mailFrom('ivan@example.com', async () => {
      const { data, error } = await supabase.auth.updateUser({ email: 'ivan@example.com' });
      expect(error).toBeNull();
      expect(data.user?.is_anonymous).toBe(true);
      expect(data.user?.new_email).toBe('ivan@example.com');
    });
    const verified = await supabase.auth.verifyOtp({
      email: 'ivan@example.com',
      token: codeOf(mail),
      type: 'email_change',
    });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.is_anonymous).toBe(false);
    expect(verified.data.user?.email).toBe('ivan@example.com');
    expect(decodeJwt(verified.data.session?.access_token ?? '').is_anonymous).toBe(false);
    expect((await supabase.auth.updateUser({ password: 'ivan password' })).error).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'ivan@example.com', password: 'ivan password' })).error,
    ).toBeNull();
  });

  test('resend of an email change mails the pending address again', async () => {
    const supabase = client();
    expect(
      (await supabase.auth.signInWithPassword({ email: 'frank@example.com', password: 'frank password' })).error,
    ).toBeNull();
    await mailFrom('frank.new@example.com', () => supabase.auth.updateUser({ email: 'frank.new@example.com' }));
    const again = await mailFrom('frank.new@example.com', () =>
      client().auth.resend({ type: 'email_change', email: 'frank@example.com' }),
    );
    const verified = await client().auth.verifyOtp({
      token_hash: linkOf(again).searchParams.get('token') ?? '',
      type: 'email_change',
    });
    expect(verified.error).toBeNull();
    expect(verified.data.user?.email).toBe('frank.new@example.com');
  });
});

describe('when the mail server is down', () => {
  let down: TestServer;
  beforeAll(async () => {
    const closedPort = await freePort();
    down = await startTestServer({
      env: { AUTH_EMAIL_CONFIRMATION: 'true', SMTP_URL: `smtp://127.0.0.1:${closedPort}?ignoreTLS=true` },
    });
  });
  afterAll(() => down?.stop());

  test('sign-up and magic-link sign-up fail with a 500 and leave no user to block a retry', async () => {
    const supabase = supabaseClient(down);
    const signUp = await supabase.auth.signUp({ email: 'unlucky@example.com', password: 'unlucky password' });
    // auth-js treats any 5xx as a retryable network error and keeps no message.
    expect(signUp.error?.status).toBe(500);
    const otp = await supabase.auth.signInWithOtp({ email: 'unlucky2@example.com' });
    expect(otp.error?.status).toBe(500);
    const users = await down.sql.query('select email from auth.users');
    expect(users.rows).toEqual([]);
  });
});

describe('a password chosen by someone who does not own the address', () => {
  test('is dropped when the owner signs in by code: signing up first does not share the account', async () => {
    const attacker = client();
    const signUp = await attacker.auth.signUp({ email: 'victim@example.com', password: 'attacker password' });
    expect(signUp.error).toBeNull();
    expect(signUp.data.session).toBeNull();
    const mail = await mailFrom('victim@example.com', () =>
      client().auth.signInWithOtp({ email: 'victim@example.com' }),
    );
    const owner = client();
    expect(
      (await owner.auth.verifyOtp({ email: 'victim@example.com', token: codeOf(mail), type: 'email' })).error,
    ).toBeNull();
    const stolen = await client().auth.signInWithPassword({
      email: 'victim@example.com',
      password: 'attacker password',
    });
    expect(stolen.error?.code).toBe('invalid_credentials');
  });

  test('stays dropped when the first sign-up asks for its confirmation mail again afterwards', async () => {
    expect(
      (await client().auth.signUp({ email: 'victim2@example.com', password: 'attacker password' })).error,
    ).toBeNull();
    await mailFrom('victim2@example.com', () => client().auth.signInWithOtp({ email: 'victim2@example.com' }));
    // The attacker re-sends the sign-up confirmation: it replaces the owner's code, not the flag.
    const latest = await mailFrom('victim2@example.com', () =>
      client().auth.resend({ type: 'signup', email: 'victim2@example.com' }),
    );
    expect(
      (await client().auth.verifyOtp({ email: 'victim2@example.com', token: codeOf(latest), type: 'email' })).error,
    ).toBeNull();
    expect(
      (await client().auth.signInWithPassword({ email: 'victim2@example.com', password: 'attacker password' })).error
        ?.code,
    ).toBe('invalid_credentials');
  });
});
