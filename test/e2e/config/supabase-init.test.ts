/**
 * A folder made by `supabase init` (config.toml, a migration, seed.sql) starts on Trellis as it is,
 * and its config.toml settings take effect, as seen through supabase-js; environment variables
 * still win over them, and a bad file stops the start with one line.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'otplib';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli, tempProject } from '../../helpers/cli.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';
import { supabaseInitConfigToml } from '../../helpers/supabase-init.js';

/** The template with one setting changed; the text replaced must be there, or the fixture is stale. */
function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the config.toml fixture has no ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

const CONFIG = [
  ['max_rows = 1000', 'max_rows = 3'],
  ['site_url = "http://127.0.0.1:3000"', 'site_url = "env(TEST_APP_URL)"'],
  [
    '# Allow/disallow new user signups to your project.\nenable_signup = true',
    '# Signups closed.\nenable_signup = false',
  ],
  ['file_size_limit = "50MiB"', 'file_size_limit = "1KiB"'],
  ['sql_paths = ["./seed.sql"]', 'sql_paths = ["./seed.sql", "./seeds/*.sql"]'],
  [
    '# [storage.buckets.images]\n# public = false',
    '[storage.buckets.images]\npublic = true\nallowed_mime_types = ["image/png"]\n# public = false',
  ],
  // A setting Trellis has no counterpart for: named in the start's warning.
  ['port = 54323', 'port = 6000'],
].reduce((text, [from, to]) => edit(text, from ?? '', to ?? ''), supabaseInitConfigToml('moved-app'));

const FILES = {
  'supabase/config.toml': CONFIG,
  'supabase/seed.sql': `insert into items (name) values ('one'), ('two'), ('three');\n`,
  'supabase/seeds/02_more.sql': `insert into items (name) values ('five');\n`,
  'supabase/seeds/01_more.sql': `insert into items (name) values ('four');\n`,
};
// The first migration of many a Supabase project: uuid_generate_v4() lives in the extensions schema.
const MIGRATIONS = {
  '20240101000000_items.sql': `create table items (id uuid primary key default uuid_generate_v4(), name text not null, seq bigint generated always as identity);\n`,
};
const ENV = { TEST_APP_URL: 'http://app.test:4000' };

describe('a `supabase init` folder with settings changed', () => {
  let server: TestServer;
  const logged: { level: number; msg: string; keys?: string[] }[] = [];
  beforeAll(async () => {
    const log = pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    server = await startTestServer({ files: FILES, migrations: MIGRATIONS, env: ENV, log });
  });
  afterAll(() => server?.stop());

  test('the migration and every seed file applied, in order; [api] max_rows caps the answer', async () => {
    const { data, count, error } = await supabaseClient(server)
      .from('items')
      .select('id, name', { count: 'exact' })
      .order('seq');
    expect(error).toBeNull();
    expect(count).toBe(5);
    expect(data).toHaveLength(3);
    for (const row of data ?? []) expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-/);
    expect(data?.map((r) => r.name)).toEqual(['one', 'two', 'three']);
    const all = await server.sql.query<{ name: string }>('select name from items order by seq');
    // seed.sql first, then the glob's matches sorted: 01_more before 02_more.
    expect(all.rows.map((r) => r.name)).toEqual(['one', 'two', 'three', 'four', 'five']);
  });

  test('[auth] enable_signup = false refuses sign-ups', async () => {
    const { data, error } = await supabaseClient(server).auth.signUp({
      email: 'new@example.com',
      password: 'secret-pw-1',
    });
    expect(error?.code).toBe('signup_disabled');
    expect(data.user).toBeNull();
  });

  test('[auth] site_url, from env(TEST_APP_URL), is where links send the user', async () => {
    const admin = supabaseClient(server, server.serviceRoleKey);
    const created = await admin.auth.admin.createUser({
      email: 'ann@example.com',
      password: 'secret-pw-1',
      email_confirm: true,
    });
    expect(created.error).toBeNull();
    const { data, error } = await admin.auth.admin.generateLink({ type: 'recovery', email: 'ann@example.com' });
    expect(error).toBeNull();
    expect(data.properties?.redirect_to).toBe('http://app.test:4000');
  });

  test('[auth.mfa.totp] enroll_enabled = false (the template) refuses TOTP enrolment as GoTrue does', async () => {
    const client = await signedIn(server, 'mfa@example.com');
    const { error } = await client.auth.mfa.enroll({ factorType: 'totp' });
    expect(error?.code).toBe('mfa_totp_enroll_not_enabled');
    expect(error?.status).toBe(422);
  });

  test('[storage] file_size_limit = "1KiB" refuses an upload of 1025 bytes and takes 1024', async () => {
    const admin = supabaseClient(server, server.serviceRoleKey);
    expect((await admin.storage.createBucket('files')).error).toBeNull();
    const tooBig = await admin.storage.from('files').upload('big.bin', new Uint8Array(1025));
    expect(tooBig.error?.message).toBe('The object exceeded the maximum allowed size');
    const fits = await admin.storage.from('files').upload('fits.bin', new Uint8Array(1024));
    expect(fits.error).toBeNull();
  });

  test('[storage.buckets.images] is made with the properties it lists', async () => {
    const admin = supabaseClient(server, server.serviceRoleKey);
    const { data, error } = await admin.storage.getBucket('images');
    expect(error).toBeNull();
    expect(data).toMatchObject({ name: 'images', public: true, allowed_mime_types: ['image/png'] });
    const refused = await admin.storage.from('images').upload('a.txt', 'text', { contentType: 'text/plain' });
    expect(refused.error).not.toBeNull();
    const png = await admin.storage.from('images').upload('a.png', new Uint8Array(10), { contentType: 'image/png' });
    expect(png.error).toBeNull();
  });

  test('the start names the key it does not apply, once', () => {
    const warnings = logged.filter((l) => l.msg.startsWith('config.toml settings Trellis does not apply'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.keys).toEqual(['studio.port']);
  });
});

describe('environment variables over config.toml', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      files: FILES,
      migrations: MIGRATIONS,
      env: { ...ENV, REST_MAX_ROWS: '4', AUTH_MFA_TOTP_ENROLL_ENABLED: 'true' },
    });
  });
  afterAll(() => server?.stop());

  test('REST_MAX_ROWS wins over [api] max_rows', async () => {
    const { data, error } = await supabaseClient(server).from('items').select('name');
    expect(error).toBeNull();
    expect(data).toHaveLength(4);
  });

  test('AUTH_MFA_TOTP_ENROLL_ENABLED wins over [auth.mfa.totp]; verify_enabled = false still refuses a challenge', async () => {
    const client = await signedIn(server, 'env@example.com');
    const enrolled = await client.auth.mfa.enroll({ factorType: 'totp' });
    expect(enrolled.error).toBeNull();
    const { error } = await client.auth.mfa.challenge({ factorId: enrolled.data?.id ?? '' });
    expect(error?.code).toBe('mfa_totp_verify_not_enabled');
  });
});

describe('[auth.mfa] max_enrolled_factors', () => {
  let server: TestServer;
  beforeAll(async () => {
    const toml =
      '[auth.mfa]\nmax_enrolled_factors = 1\n\n[auth.mfa.totp]\nenroll_enabled = true\nverify_enabled = true\n';
    server = await startTestServer({ files: { 'supabase/config.toml': toml } });
  });
  afterAll(() => server?.stop());

  test('a user with one verified factor may not enroll another', async () => {
    const client = await signedIn(server, 'two@example.com');
    const first = await client.auth.mfa.enroll({ factorType: 'totp' });
    expect(first.error).toBeNull();
    const factorId = first.data?.id ?? '';
    const secret = first.data?.type === 'totp' ? first.data.totp.secret : '';
    const verified = await client.auth.mfa.challengeAndVerify({ factorId, code: await generate({ secret }) });
    expect(verified.error).toBeNull();
    const second = await client.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'second' });
    expect(second.error?.code).toBe('too_many_enrolled_mfa_factors');
  });
});

/** A confirmed user, made by the admin API (sign-ups may be off), signed in with a password. */
async function signedIn(server: TestServer, email: string) {
  const created = await supabaseClient(server, server.serviceRoleKey).auth.admin.createUser({
    email,
    password: 'secret-pw-1',
    email_confirm: true,
  });
  expect(created.error).toBeNull();
  const client = supabaseClient(server);
  expect((await client.auth.signInWithPassword({ email, password: 'secret-pw-1' })).error).toBeNull();
  return client;
}

describe('`trellis start` with a bad config.toml', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tempProject(MIGRATIONS);
  });
  afterAll(() => fs.rm(dir, { recursive: true, force: true }));

  test.each([
    [
      'a wrong type',
      edit(CONFIG, 'max_rows = 3', 'max_rows = "x"'),
      /^trellis: .*config\.toml line 18 \(api\.max_rows\): must be a whole number \(got the string "x"\)$/,
    ],
    [
      'a file that does not parse',
      edit(CONFIG, 'max_rows = 3', 'max_rows = '),
      /^trellis: .*config\.toml line 18, column 12: invalid value$/,
    ],
    [
      'an unset env()',
      CONFIG,
      /^trellis: .*config\.toml line 161 \(auth\.site_url\): env\(TEST_APP_URL\): the environment variable TEST_APP_URL is not set$/,
    ],
  ])('%s stops it with one line naming file, line and problem', async (_name, text, message) => {
    await fs.writeFile(path.join(dir, 'supabase', 'config.toml'), text);
    const result = await runCli(['start', '--dir', dir, '--port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    // Nothing was started: no data folder was made.
    await expect(fs.access(path.join(dir, '.trellis'))).rejects.toThrow();
  });
});
