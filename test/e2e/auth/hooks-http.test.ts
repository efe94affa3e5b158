/**
 * Auth hooks as HTTP endpoints on loopback, driven through supabase-js. The endpoint checks every
 * request's standard-webhooks signature with the configured secret (a wrong one is answered 401, so
 * broken signing fails these tests) and answers as each test tells it: the claim an RLS policy
 * reads, then every kind of failure GoTrue names (timeout, 500, garbage, wrong shape, oversize).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SupabaseClient } from '@supabase/supabase-js';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

const KEY = crypto.randomBytes(32);
const SECRET = `v1,whsec_${KEY.toString('base64')}`;

interface HookRequest {
  readonly path: string;
  readonly body: Record<string, any>;
  readonly headers: http.IncomingHttpHeaders;
}
type Answer = (req: HookRequest, res: http.ServerResponse) => void;

const received: HookRequest[] = [];
let badSignatures = 0;
/** How the endpoint answers the next requests, by path. */
const answers = new Map<string, Answer>();
const json = (res: http.ServerResponse, body: unknown, status = 200) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

/** The standard-webhooks check a hook endpoint makes (what `standardwebhooks`' verify does). */
function signatureValid(raw: string, headers: http.IncomingHttpHeaders): boolean {
  const id = String(headers['webhook-id'] ?? '');
  const timestamp = String(headers['webhook-timestamp'] ?? '');
  if (!id || Math.abs(Date.now() / 1000 - Number(timestamp)) > 300) return false;
  const expected = crypto.createHmac('sha256', KEY).update(`${id}.${timestamp}.${raw}`).digest('base64');
  return String(headers['webhook-signature'] ?? '')
    .split(' ')
    .some((sig) => sig === `v1,${expected}`);
}

const endpoint = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    if (!signatureValid(raw, req.headers)) {
      badSignatures++;
      return res.writeHead(401).end();
    }
    const call = { path: req.url ?? '', body: JSON.parse(raw) as Record<string, any>, headers: req.headers };
    received.push(call);
    (answers.get(call.path) ?? defaultAnswer)(call, res);
  });
});

const defaultAnswer: Answer = (req, res) => {
  if (req.path === '/token') {
    const claims = req.body.claims as Record<string, unknown>;
    const role = String(claims.email).startsWith('boss') ? 'admin' : 'staff';
    return json(res, { claims: { ...claims, user_role: role } });
  }
  if (req.path === '/password') return json(res, { decision: 'continue' });
  res.writeHead(204).end();
};

let server: TestServer;
let admin: SupabaseClient;
const client = (): SupabaseClient => supabaseClient(server);

beforeAll(async () => {
  await new Promise<void>((resolve) => endpoint.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
  server = await startTestServer({
    migrations: {
      '20240101000000_documents.sql': `
        create table public.documents (id int primary key, title text not null, clearance text not null);
        insert into public.documents values (1, 'lunch menu', 'everyone'), (2, 'payroll', 'admin');
        alter table public.documents enable row level security;
        grant select on public.documents to authenticated;
        create policy "by clearance" on public.documents for select to authenticated
          using (clearance = 'everyone' or (auth.jwt() ->> 'user_role') = 'admin');
      `,
    },
    env: {
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED: 'true',
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI: `${base}/token`,
      AUTH_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS: SECRET,
      AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED: 'true',
      AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI: `${base}/password`,
      AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_SECRETS: SECRET,
      AUTH_HOOK_SEND_EMAIL_ENABLED: 'true',
      AUTH_HOOK_SEND_EMAIL_URI: `${base}/email`,
      // Two secrets, as during a rotation: each signs; the endpoint knows one.
      AUTH_HOOK_SEND_EMAIL_SECRETS: `v1,whsec_${crypto.randomBytes(32).toString('base64')}|${SECRET}`,
      AUTH_HOOK_HTTP_TIMEOUT_MS: '800',
    },
  });
  admin = supabaseClient(server, server.serviceRoleKey);
});
afterAll(async () => {
  await server?.stop();
  await new Promise((resolve) => endpoint.close(resolve));
});
beforeEach(() => {
  answers.clear();
  received.length = 0;
});

async function createUser(email: string): Promise<string> {
  const { data, error } = await admin.auth.admin.createUser({
    email,
    password: 'a good password',
    email_confirm: true,
  });
  expect(error).toBeNull();
  return data.user?.id ?? '';
}

/** POST /token as auth-js sends it, for the body of an answer auth-js does not read (a 500). */
async function rawSignIn(email: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}/auth/v1/token?grant_type=password`, {
    method: 'POST',
    headers: { apikey: server.anonKey, 'content-type': 'application/json', 'x-supabase-api-version': '2024-01-01' },
    body: JSON.stringify({ email, password: 'a good password' }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('custom_access_token over HTTP', () => {
  test('signed requests; the claim it adds decides what RLS lets supabase-js read', async () => {
    const bossId = await createUser('boss@example.com');
    await createUser('clerk@example.com');
    const boss = client();
    const signedIn = await boss.auth.signInWithPassword({ email: 'boss@example.com', password: 'a good password' });
    expect(signedIn.error).toBeNull();
    expect(decodeJwt(signedIn.data.session?.access_token ?? '').user_role).toBe('admin');
    expect((await boss.from('documents').select('title').order('id')).data).toEqual([
      { title: 'lunch menu' },
      { title: 'payroll' },
    ]);
    const clerk = client();
    await clerk.auth.signInWithPassword({ email: 'clerk@example.com', password: 'a good password' });
    expect((await clerk.from('documents').select('title')).data).toEqual([{ title: 'lunch menu' }]);

    const call = received.find((r) => r.path === '/token' && r.body.user_id === bossId);
    expect(call?.body).toMatchObject({
      metadata: { name: 'customize-access-token', uuid: expect.any(String) },
      user_id: bossId,
      authentication_method: 'password',
      claims: { sub: bossId, aud: 'authenticated', role: 'authenticated', aal: 'aal1', email: 'boss@example.com' },
    });
    expect(call?.headers['content-type']).toBe('application/json');
    expect(badSignatures).toBe(0);
  });

  const hang: Answer = (_req, res) => setTimeout(() => json(res, {}), 2000).unref();
  test.each<[string, Answer, number, string, RegExp]>([
    ['too slow', hang, 422, 'hook_timeout', /^Failed to reach hook within maximum time of 0\.800000 seconds$/],
    [
      'a 500',
      (_q, res) => json(res, {}, 500),
      500,
      'unexpected_failure',
      /^Unexpected status code returned from hook: 500$/,
    ],
    ['a 400', (_q, res) => json(res, {}, 400), 500, 'unexpected_failure', /^Invalid payload sent to hook$/],
    [
      'garbage JSON',
      (_q, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"claims": {'),
      500,
      'unexpected_failure',
      /^Error unmarshaling JSON output\.$/,
    ],
    [
      'plain text',
      (_q, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
      400,
      'hook_payload_invalid_content_type',
      /^Invalid JSON response\. Received content-type: text\/plain$/,
    ],
    [
      'no content type',
      (_q, res) => res.writeHead(200).end('{}'),
      400,
      'hook_payload_invalid_content_type',
      /Missing Content-Type header/,
    ],
    [
      'claims of the wrong shape',
      (_q, res) => json(res, { claims: 'admin' }),
      500,
      'unexpected_failure',
      /unmarshaling/,
    ],
    ['no claims', (_q, res) => json(res, { user_role: 'admin' }), 500, 'unexpected_failure', /claims field is missing/],
    [
      'claims missing session_id',
      (q, res) => json(res, { claims: { ...q.body.claims, session_id: undefined } }),
      500,
      'unexpected_failure',
      /session_id is required/,
    ],
    [
      'over 200 KiB',
      (q, res) => json(res, { claims: { ...q.body.claims, padding: 'x'.repeat(300_000) } }),
      422,
      'hook_payload_over_size_limit',
      /^Payload size exceeded size limit of 204800 bytes$/,
    ],
    [
      'its own error',
      (_q, res) => json(res, { error: { http_code: 429, message: 'Slow down' } }),
      429,
      'unknown',
      /^Slow down$/,
    ],
  ])('a hook answering %s: GoTrue error, no session', async (kind, answer, status, code, message) => {
    const email = `${kind.replace(/\W+/g, '-')}@example.com`;
    const userId = await createUser(email);
    answers.set('/token', answer);
    const { data, error } = await client().auth.signInWithPassword({ email, password: 'a good password' });
    expect(data.session).toBeNull();
    expect(error?.status).toBe(status);
    const raw = await rawSignIn(email);
    expect(raw.status).toBe(status);
    expect(raw.body.code).toBe(code);
    expect(String(raw.body.message)).toMatch(message);
    const sessions = await server.sql.query('select 1 from auth.sessions where user_id = $1', [userId]);
    expect(sessions.rowCount).toBe(0);
  });

  test('503 with Retry-After is retried, and the next answer is used', async () => {
    await createUser('retry@example.com');
    let calls = 0;
    answers.set('/token', (req, res) => {
      calls++;
      if (calls === 1) return res.writeHead(503, { 'retry-after': '1' }).end();
      return defaultAnswer(req, res);
    });
    const { error } = await client().auth.signInWithPassword({
      email: 'retry@example.com',
      password: 'a good password',
    });
    expect(error).toBeNull();
    expect(calls).toBe(2);
  });
});

describe('password_verification_attempt over HTTP', () => {
  test('a rejection answers invalid_credentials with the hook’s message', async () => {
    const userId = await createUser('suspicious@example.com');
    answers.set('/password', (q, res) =>
      json(res, q.body.valid ? { decision: 'reject', message: 'Sign-in from here is not allowed' } : {}),
    );
    const { error } = await client().auth.signInWithPassword({
      email: 'suspicious@example.com',
      password: 'a good password',
    });
    expect(error?.status).toBe(400);
    expect(error?.code).toBe('invalid_credentials');
    expect(error?.message).toBe('Sign-in from here is not allowed');
    expect(received.find((r) => r.path === '/password')?.body).toMatchObject({
      metadata: { name: 'password-verification', ip_address: expect.any(String) },
      user_id: userId,
      valid: true,
    });
  });

  test('an answer of the wrong type is refused (500), not taken as "continue"', async () => {
    await createUser('typed@example.com');
    answers.set('/password', (_q, res) => json(res, { decision: 1 }));
    expect((await rawSignIn('typed@example.com')).body).toMatchObject({
      code: 'unexpected_failure',
      message: 'Error unmarshaling JSON output.',
    });
  });
});

describe('send_email over HTTP', () => {
  test('a recovery mail goes to the hook, signed with each secret; its code signs the user in', async () => {
    await createUser('forgetful@example.com');
    expect((await client().auth.resetPasswordForEmail('forgetful@example.com')).error).toBeNull();
    const call = received.find((r) => r.path === '/email');
    expect(String(call?.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(call?.body.user).toMatchObject({ email: 'forgetful@example.com', aud: 'authenticated' });
    expect(call?.body.email_data).toMatchObject({
      email_action_type: 'recovery',
      token: expect.stringMatching(/^\d{6}$/),
    });
    const verified = await client().auth.verifyOtp({
      email: 'forgetful@example.com',
      token: call?.body.email_data.token as string,
      type: 'recovery',
    });
    expect(verified.error).toBeNull();
  });

  test('a hook that times out fails the request with hook_timeout', async () => {
    await createUser('lostmail@example.com');
    answers.set('/email', hangForever);
    const { error } = await client().auth.resetPasswordForEmail('lostmail@example.com');
    expect(error?.status).toBe(422);
    expect(error?.code).toBe('hook_timeout');
  });
});

const hangForever: Answer = (_req, res) => setTimeout(() => res.writeHead(204).end(), 3000).unref();
