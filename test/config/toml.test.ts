/** supabase/config.toml → Trellis settings: the pure mapping, by table. */
import fs from 'node:fs';
import { parse } from 'smol-toml';
import { describe, expect, test } from 'vitest';
import { APPLIED_KEYS, parseSupabaseToml, type SupabaseToml, type TomlProblem } from '../../src/config/toml.js';
import { leaves } from '../../src/config/toml-unapplied.js';
import { parseGoDuration, parseSizeInBytes } from '../../src/config/toml-values.js';
import { supabaseInitConfigToml } from '../helpers/supabase-init.js';

const mapped = (text: string, env: Record<string, string> = {}): SupabaseToml => {
  const result = parseSupabaseToml(text, env);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(text)} to map, got ${JSON.stringify(result.problem)}`);
  return result.value;
};
const raws = (text: string, env: Record<string, string> = {}): Record<string, string> =>
  Object.fromEntries(Object.entries(mapped(text, env).settings).map(([name, s]) => [name, s.raw]));
const problem = (text: string, env: Record<string, string> = {}): TomlProblem => {
  const result = parseSupabaseToml(text, env);
  if (result.ok) throw new Error(`expected ${JSON.stringify(text)} to fail`);
  return result.problem;
};

describe('the `supabase init` template', () => {
  test('maps onto the settings Trellis has, at their Supabase values, with nothing left unapplied', () => {
    const value = mapped(supabaseInitConfigToml());
    expect(Object.fromEntries(Object.entries(value.settings).map(([name, s]) => [name, s.raw]))).toEqual({
      PORT: '54321',
      REST_SCHEMAS: 'public,graphql_public',
      REST_MAX_ROWS: '1000',
      REST_EXTRA_SEARCH_PATH: 'public,extensions',
      AUTH_SITE_URL: 'http://127.0.0.1:3000',
      AUTH_ADDITIONAL_REDIRECT_URLS: 'https://127.0.0.1:3000',
      JWT_EXPIRY: '3600',
      AUTH_REFRESH_TOKEN_REUSE_INTERVAL: '10',
      AUTH_DISABLE_SIGNUP: 'false',
      AUTH_ANONYMOUS_SIGN_INS: 'false',
      AUTH_MANUAL_LINKING_ENABLED: 'false',
      AUTH_PASSWORD_MIN_LENGTH: '6',
      AUTH_RATE_LIMIT_ANONYMOUS_USERS: '30',
      AUTH_RATE_LIMIT_TOKEN_REFRESH: '150',
      AUTH_RATE_LIMIT_SIGN_IN: '30',
      AUTH_RATE_LIMIT_VERIFY: '30',
      AUTH_EMAIL_CONFIRMATION: 'false',
      AUTH_EMAIL_MAX_FREQUENCY: '1',
      AUTH_OTP_EXPIRY: '3600',
      AUTH_MFA_MAX_ENROLLED_FACTORS: '10',
      AUTH_MFA_TOTP_ENROLL_ENABLED: 'false',
      AUTH_MFA_TOTP_VERIFY_ENABLED: 'false',
      AUTH_SECURE_PASSWORD_CHANGE: 'false',
      AUTH_OAUTH_SERVER_ENABLED: 'false',
      AUTH_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION: 'false',
      AUTH_OAUTH_SERVER_AUTHORIZATION_URL_PATH: '/oauth/consent',
      AUTH_RATE_LIMIT_SMS_SENT: '30',
      AUTH_SMS_ENABLE_SIGNUP: 'false',
      AUTH_SMS_CONFIRMATION: 'false',
      AUTH_SMS_TEMPLATE: 'Your code is {{ .Code }}',
      AUTH_SMS_MAX_FREQUENCY: '5',
      AUTH_MFA_PHONE_ENROLL_ENABLED: 'false',
      AUTH_MFA_PHONE_VERIFY_ENABLED: 'false',
      AUTH_MFA_PHONE_OTP_LENGTH: '6',
      AUTH_MFA_PHONE_TEMPLATE: 'Your code is {{ .Code }}',
      AUTH_MFA_PHONE_MAX_FREQUENCY: '5',
      STORAGE_FILE_SIZE_LIMIT: '52428800',
      // The template's disabled provider: only its switch is read (its secret names an unset variable).
      AUTH_EXTERNAL_APPLE_ENABLED: 'false',
    });
    expect(value.seed).toEqual({ enabled: true, paths: ['./seed.sql'] });
    expect(value.unapplied).toEqual([]);
  });

  test('each setting names its key and line', () => {
    const text = supabaseInitConfigToml();
    const lines = text.split('\n');
    for (const setting of Object.values(mapped(text).settings)) {
      const name = setting.key.split('.').at(-1) ?? '';
      expect(lines[(setting.line ?? 0) - 1], setting.key).toMatch(new RegExp(`^${name} = `));
    }
  });
});

describe('values', () => {
  test.each<[string, string, Record<string, string>, Record<string, string>?]>([
    ['a TOML integer', '[api]\nmax_rows = 500', { REST_MAX_ROWS: '500' }],
    [
      'read replicas as an array',
      '[db]\nread_replicas = ["postgres://r1/app", "postgres://r2/app"]',
      { DATABASE_READ_URL: 'postgres://r1/app,postgres://r2/app' },
    ],
    [
      'the JWT secret from env()',
      '[auth]\njwt_secret = "env(SECRET)"',
      { JWT_SECRET: 'a'.repeat(32) },
      { SECRET: 'a'.repeat(32) },
    ],
    ['a number from env()', '[api]\nmax_rows = "env(ROWS)"', { REST_MAX_ROWS: '250' }, { ROWS: '250' }],
    ['an array of schemas', '[api]\nschemas = ["api", "public"]', { REST_SCHEMAS: 'api,public' }],
    ['a comma-separated string, as the CLI splits it', '[api]\nschemas = "api,public"', { REST_SCHEMAS: 'api,public' }],
    [
      'array entries from env()',
      '[auth]\nadditional_redirect_urls = ["env(APP)", "http://x/*"]',
      { AUTH_ADDITIONAL_REDIRECT_URLS: 'https://app,http://x/*' },
      { APP: 'https://app' },
    ],
    ['an empty external_url (derive it)', '[api]\nexternal_url = ""', {}],
    [
      'an enabled OAuth provider',
      '[auth.external.github]\nenabled = true\nclient_id = "id"\nsecret = "env(GH)"\nurl = "http://gh.local"\nemail_optional = true',
      {
        AUTH_EXTERNAL_GITHUB_ENABLED: 'true',
        AUTH_EXTERNAL_GITHUB_CLIENT_ID: 'id',
        AUTH_EXTERNAL_GITHUB_SECRET: 's3cret',
        AUTH_EXTERNAL_GITHUB_URL: 'http://gh.local',
        AUTH_EXTERNAL_GITHUB_EMAIL_OPTIONAL: 'true',
      },
      { GH: 's3cret' },
    ],
    [
      'a disabled provider: only its switch, its env() left unread',
      '[auth.external.google]\nenabled = false\nsecret = "env(UNSET)"',
      { AUTH_EXTERNAL_GOOGLE_ENABLED: 'false' },
    ],
    [
      'a generic OpenID Connect provider',
      '[auth.external.acme]\nenabled = true\nclient_id = "a"\nsecret = "b"\nurl = "https://id.acme.test"\nskip_nonce_check = true',
      {
        AUTH_EXTERNAL_ACME_ENABLED: 'true',
        AUTH_EXTERNAL_ACME_CLIENT_ID: 'a',
        AUTH_EXTERNAL_ACME_SECRET: 'b',
        AUTH_EXTERNAL_ACME_URL: 'https://id.acme.test',
        AUTH_EXTERNAL_ACME_SKIP_NONCE_CHECK: 'true',
      },
    ],
    ['[auth] enable_manual_linking', '[auth]\nenable_manual_linking = true', { AUTH_MANUAL_LINKING_ENABLED: 'true' }],
    ['[auth] enable_signup = false', '[auth]\nenable_signup = false', { AUTH_DISABLE_SIGNUP: 'true' }],
    ['[auth.email] enable_signup = false', '[auth.email]\nenable_signup = false', { AUTH_DISABLE_SIGNUP: 'true' }],
    ['both on', '[auth]\nenable_signup = true\n[auth.email]\nenable_signup = true', { AUTH_DISABLE_SIGNUP: 'false' }],
    [
      'a boolean from env()',
      '[auth.email]\nenable_confirmations = "env(CONFIRM)"',
      { AUTH_EMAIL_CONFIRMATION: 'true' },
      { CONFIRM: 'true' },
    ],
    ['a Go duration', '[auth.email]\nmax_frequency = "1m30s"', { AUTH_EMAIL_MAX_FREQUENCY: '90' }],
    ['a fraction of a second, rounded up', '[auth.email]\nmax_frequency = "500ms"', { AUTH_EMAIL_MAX_FREQUENCY: '1' }],
    ['"50MiB"', '[storage]\nfile_size_limit = "50MiB"', { STORAGE_FILE_SIZE_LIMIT: '52428800' }],
    ['"5MB", binary as in the CLI', '[storage]\nfile_size_limit = "5MB"', { STORAGE_FILE_SIZE_LIMIT: '5242880' }],
    ['"20mb"', '[storage]\nfile_size_limit = "20mb"', { STORAGE_FILE_SIZE_LIMIT: '20971520' }],
    ['a byte count', '[storage]\nfile_size_limit = 1000', { STORAGE_FILE_SIZE_LIMIT: '1000' }],
    ['dotted keys under a parent table', '[auth]\nemail.otp_expiry = 600', { AUTH_OTP_EXPIRY: '600' }],
    [
      '[auth.mfa.totp]',
      '[auth.mfa.totp]\nenroll_enabled = true\nverify_enabled = false',
      { AUTH_MFA_TOTP_ENROLL_ENABLED: 'true', AUTH_MFA_TOTP_VERIFY_ENABLED: 'false' },
    ],
  ])('%s', (_name, text, expected, env = {}) => {
    expect(raws(text, env)).toEqual(expected);
  });

  test('[auth.sms] as the conformance config sets it: phone on, autoconfirm, 1 s, a test number', () => {
    const text = `[auth.sms]\nenable_signup = true\nenable_confirmations = false\nmax_frequency = "1s"\n[auth.sms.twilio]\nenabled = false\naccount_sid = ""\nauth_token = "env(SUPABASE_AUTH_SMS_TWILIO_AUTH_TOKEN)"\n[auth.sms.test_otp]\n1234567890 = "123456"\n`;
    const value = mapped(text);
    expect(Object.fromEntries(Object.entries(value.settings).map(([name, v]) => [name, v.raw]))).toEqual({
      AUTH_SMS_ENABLE_SIGNUP: 'true',
      AUTH_SMS_CONFIRMATION: 'false',
      AUTH_SMS_MAX_FREQUENCY: '1',
      AUTH_SMS_TEST_OTP: '1234567890=123456',
    });
    // A disabled provider's env() names nothing that must be set, and nothing is reported.
    expect(value.unapplied).toEqual([]);
  });

  test('the first enabled provider table is the provider, with its own keys only', () => {
    const text = `[auth.sms.twilio]\nenabled = false\naccount_sid = "x"\n[auth.sms.vonage]\nenabled = true\napi_key = "k"\napi_secret = "env(VONAGE_SECRET)"\nfrom = "Trellis"\n[auth.sms.textlocal]\nenabled = true\napi_key = "t"\nsender = "s"\n`;
    const value = mapped(text, { VONAGE_SECRET: 'shh' });
    // textlocal comes before vonage in the CLI's order.
    expect(Object.fromEntries(Object.entries(value.settings).map(([name, v]) => [name, v.raw]))).toEqual({
      AUTH_SMS_PROVIDER: 'textlocal',
      AUTH_SMS_TEXTLOCAL_API_KEY: 't',
      AUTH_SMS_TEXTLOCAL_SENDER: 's',
    });
    const vonage = mapped(
      text.replace('[auth.sms.textlocal]\nenabled = true', '[auth.sms.textlocal]\nenabled = false'),
      {
        VONAGE_SECRET: 'shh',
      },
    );
    expect(vonage.settings.AUTH_SMS_PROVIDER?.raw).toBe('vonage');
    expect(vonage.settings.AUTH_SMS_VONAGE_API_SECRET?.raw).toBe('shh');
  });

  test.each([
    ['a code that is not digits', '[auth.sms.test_otp]\n1234567890 = "abc"', 'auth.sms.test_otp.1234567890'],
    ['a number that is not one', '[auth.sms.test_otp]\nalice = "123456"', 'auth.sms.test_otp.alice'],
    ['test_otp not a table', '[auth.sms]\ntest_otp = "1234567890=1"', 'auth.sms.test_otp'],
  ])('[auth.sms.test_otp] with %s is refused', (_name, text, key) => {
    expect(problem(text).key).toBe(key);
  });

  test('[auth.email.smtp] becomes SMTP_URL and SMTP_FROM, and email_sent applies with it', () => {
    const text = `[auth.rate_limit]\nemail_sent = 5\n[auth.email.smtp]\nhost = "smtp.sendgrid.net"\nport = 587\nuser = "apikey"\npass = "env(SENDGRID_API_KEY)"\nadmin_email = "admin@email.com"\nsender_name = "Admin"\n`;
    expect(raws(text, { SENDGRID_API_KEY: 'SG.a/b' })).toEqual({
      SMTP_URL: 'smtp://apikey:SG.a%2Fb@smtp.sendgrid.net:587',
      SMTP_FROM: 'Admin <admin@email.com>',
      AUTH_RATE_LIMIT_EMAIL_SENT: '5',
    });
    expect(raws('[auth.email.smtp]\nhost = "mail"\nport = 465')).toEqual({ SMTP_URL: 'smtps://mail:465' });
  });

  test.each([
    ['without [auth.email.smtp] (the CLI does not limit its Inbucket)', '[auth.rate_limit]\nemail_sent = 2'],
    [
      'with [auth.email.smtp] enabled = false',
      '[auth.rate_limit]\nemail_sent = 2\n[auth.email.smtp]\nenabled = false\npass = "env(UNSET)"',
    ],
  ])('email_sent is not applied %s', (_name, text) => {
    expect(raws(text)).toEqual({});
  });

  test.each([
    [
      '[db.seed]\nsql_paths = ["./seeds/*.sql", "./seed.sql"]',
      { enabled: true, paths: ['./seeds/*.sql', './seed.sql'] },
    ],
    ['[db.seed]\nenabled = false', { enabled: false, paths: ['./seed.sql'] }],
    ['[db]\nport = 54322', undefined],
  ])('the seed of %j', (text, seed) => {
    expect(mapped(text).seed).toEqual(seed);
  });

  test.each([
    ['1s', 1000],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['0', 0],
    ['10', undefined],
    ['', undefined],
    ['1 s', undefined],
  ])('the Go duration %j is %j ms', (text, ms) => {
    expect(parseGoDuration(text)).toBe(ms);
  });

  test.each([
    ['50MiB', 52_428_800],
    ['500KB', 512_000],
    ['1.5g', 1_610_612_736],
    ['100', 100],
    ['100 B', 100],
    ['5 MB', 5_242_880],
    ['lots', undefined],
    ['-5MB', undefined],
  ])('the size %j is %j bytes', (text, bytes) => {
    expect(parseSizeInBytes(text)).toBe(bytes);
  });
});

describe('[storage.buckets.*]', () => {
  test('a bucket whose name holds a dot keeps its settings', () => {
    const value = mapped(
      '[storage.buckets."img.v2"]\npublic = true\nfile_size_limit = "5MiB"\nallowed_mime_types = ["image/png"]\n',
    );
    expect(value.buckets).toEqual([
      { name: 'img.v2', public: true, fileSizeLimit: 5_242_880, allowedMimeTypes: ['image/png'] },
    ]);
    expect(value.unapplied).toEqual([]);
  });
});

describe('bad input names its line, key and problem', () => {
  test.each<[string, string, Partial<TomlProblem>, Record<string, string>?]>([
    [
      'a file that does not parse',
      '[api]\nmax_rows = \n',
      { line: 2, column: 12, key: undefined, message: 'invalid value' },
    ],
    ['an unclosed table header', '[api\nport = 1\n', { line: 1, key: undefined }],
    ['a duplicate key', '[api]\nport = 1\nport = 2\n', { line: 3, key: undefined }],
    [
      'a string for a number',
      '# comment\n[api]\nmax_rows = "x"\n',
      { line: 3, key: 'api.max_rows', message: 'must be a whole number (got the string "x")' },
    ],
    [
      'a float for a number',
      '[auth]\njwt_expiry = 1.5\n',
      { line: 2, key: 'auth.jwt_expiry', message: 'must be a whole number (got the number 1.5)' },
    ],
    [
      'a number for a list',
      '[api]\nschemas = 5\n',
      { line: 2, key: 'api.schemas', message: 'must be an array of strings (got the number 5)' },
    ],
    [
      'a string for a boolean',
      '[auth]\nenable_signup = "no way"\n',
      { line: 2, key: 'auth.enable_signup', message: 'must be true or false (got the string "no way")' },
    ],
    [
      'a bad size',
      '[storage]\nfile_size_limit = "lots"\n',
      {
        line: 2,
        key: 'storage.file_size_limit',
        message: 'must be a size such as "50MiB" or "500KB" (got the string "lots")',
      },
    ],
    [
      'a bad duration',
      '[auth.email]\nmax_frequency = 60\n',
      {
        line: 2,
        key: 'auth.email.max_frequency',
        message: 'must be a duration such as "60s" or "1m" (got the number 60)',
      },
    ],
    [
      'an unset env()',
      '[auth]\nsite_url = "env(SITE_URL)"\n',
      { line: 2, key: 'auth.site_url', message: 'env(SITE_URL): the environment variable SITE_URL is not set' },
    ],
    [
      'an empty env()',
      '[api]\nmax_rows = "env(ROWS)"\n',
      { line: 2, key: 'api.max_rows', message: 'env(ROWS): the environment variable ROWS is not set' },
      { ROWS: '' },
    ],
    [
      'an env() that is not a number',
      '[api]\nmax_rows = "env(ROWS)"\n',
      { key: 'api.max_rows', message: 'must be a whole number (got the string "many")' },
      { ROWS: 'many' },
    ],
    [
      'SMTP without a host',
      '[auth.email.smtp]\nport = 25\n',
      { line: undefined, key: 'auth.email.smtp.host', message: 'must be set when [auth.email.smtp] is enabled' },
    ],
    [
      'an encrypted secret',
      '[auth]\njwt_secret = "encrypted:abc"\n',
      {
        line: 2,
        key: 'auth.jwt_secret',
        message: 'encrypted values are not supported; write "env(NAME)" and set NAME',
      },
    ],
    ['seed paths that are not a list', '[db.seed]\nsql_paths = "seed.sql"\n', { line: 2, key: 'db.seed.sql_paths' }],
  ])('%s', (_name, text, expected, env = {}) => {
    expect(problem(text, env)).toMatchObject(expected);
  });
});

describe('keys Trellis does not apply', () => {
  test.each<[string, string, string[]]>([
    ['a port of a service Trellis has not', '[studio]\nport = 6000', ['studio.port']],
    [
      'an enabled OAuth provider (applied) with a key Trellis has not',
      '[auth.external.github]\nenabled = true\nclient_id = "id"\nsecret = "s"\nscopes = "repo"',
      ['auth.external.github.scopes'],
    ],
    ['a disabled provider, whatever it holds', '[auth.external.github]\nenabled = false\nclient_id = "id"', []],
    ['a typo', '[api]\nmax_row = 5', ['api.max_row']],
    ['the database version (the embedded one is what it is)', '[db]\nmajor_version = 15', []],
    ['password rules', '[auth]\npassword_requirements = "letters_digits"', ['auth.password_requirements']],
    ['realtime turned off', '[realtime]\nenabled = false', ['realtime.enabled']],
    [
      'a CLI service turned off that Trellis does not run anyway',
      '[studio]\nenabled = false\n[inbucket]\nenabled = false',
      [],
    ],
    // verify_jwt and enabled are applied (src/functions); an import map is not.
    [
      'edge functions',
      '[functions.hello]\nverify_jwt = false\nimport_map = "./import_map.json"',
      ['functions.hello.import_map'],
    ],
    ['an unset env() where it is not applied', '[studio]\nopenai_api_key = "env(OPENAI_API_KEY)"', []],
  ])('%s', (_name, text, keys) => {
    expect(mapped(text).unapplied).toEqual(keys);
  });
});

describe('docs/configuration.md', () => {
  const lines = fs.readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8').split('\n');
  const split = (key: string) => {
    const parts = key.split('.');
    return { table: parts.slice(0, -1), name: parts.at(-1) ?? '' };
  };

  test.each([...APPLIED_KEYS])('names the applied key %s with its setting', (key) => {
    const { table, name } = split(key);
    const row = lines.find((l) => {
      const cell = l.startsWith('| `[') ? (l.split(' | ')[0] ?? '') : '';
      const at = cell.indexOf(`[${table.join('.')}]`);
      // The key's table, then its name: "`[auth.email] enable_signup`" or "`[db.seed] enabled`, `sql_paths`".
      return at >= 0 && (cell.includes(`[${table.join('.')}] ${name}\``) || cell.slice(at).includes(`\`${name}\``));
    });
    expect(row, key).toBeDefined();
  });

  test('gives every key of the `supabase init` template a row: applied, or why not', () => {
    const doc = parse(supabaseInitConfigToml()) as Record<string, unknown>;
    const missing = leaves(doc)
      .map(([key]) => key)
      .filter((key) => {
        const { table, name } = split(key.join('.'));
        if (table.length === 0) return !lines.some((l) => l.startsWith(`| \`${name}\``));
        // A row may stand for a family: [auth.external.*] covers [auth.external.apple].
        const names = [table.join('.'), ...table.map((_, i) => table.map((t, j) => (i === j ? '*' : t)).join('.'))];
        return !lines.some((l) => l.startsWith('| ') && names.some((n) => l.includes(`[${n}]`)));
      });
    expect(missing).toEqual([]);
  });
});

test.each([
  ['[functions.hello]\nverify_jwt = false', [{ name: 'hello', verifyJwt: false, enabled: true }]],
  [
    '[functions.a]\nenabled = false\n[functions.b]',
    [
      { name: 'a', verifyJwt: true, enabled: false },
      { name: 'b', verifyJwt: true, enabled: true },
    ],
  ],
  ['', []],
])('[functions.<name>] %j', (text, functions) => expect(mapped(text).functions).toEqual(functions));

test('[functions.<name>] verify_jwt must be a boolean', () => {
  const result = parseSupabaseToml('[functions.hello]\nverify_jwt = "no"', {});
  expect(result.ok).toBe(false);
  if (!result.ok) expect(result.problem.key).toBe('functions.hello.verify_jwt');
});
