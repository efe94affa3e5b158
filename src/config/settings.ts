/**
 * The table of every setting: its flag and environment variable, how it is parsed (zod), its
 * default and what it means (docs/configuration.md documents every row). Only src/config.ts reads
 * values for it, from flags, the environment and supabase/config.toml.
 */
import { z } from 'zod';
import { parseCacheTables } from './cache-duration.js';
import { parseMailProviders } from './mail-providers.js';
import { parseRate } from './rate-limit.js';

const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { error: `must be a whole number between ${min} and ${max}` })
    .pipe(z.coerce.number())
    .pipe(
      z
        .number()
        .min(min, { error: `must be a whole number between ${min} and ${max}` })
        .max(max, { error: `must be a whole number between ${min} and ${max}` }),
    );

const boolean = z
  .string()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(['true', 'false', '1', '0', 'yes', 'no'], { error: 'must be true or false' }))
  .transform((s) => s === 'true' || s === '1' || s === 'yes');

const postgresUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'postgres:' || u.protocol === 'postgresql:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { error: 'must be a URL like postgres://user:password@host:5432/database' },
);

// COUNT/WINDOW (`100/1m`) or off; undefined when off.
const rate = z.string().transform((text, ctx) => {
  const parsed = parseRate(text);
  if (parsed.ok) return parsed.value;
  ctx.addIssue({ code: 'custom', message: parsed.problem });
  return z.NEVER;
});

// OTEL_EXPORTER_OTLP_HEADERS: `key1=value1,key2=value2`, values percent-encoded (the OTel spec's format).
const otlpHeaders = z.string().transform((text, ctx) => {
  const headers: Record<string, string> = {};
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    const name = at > 0 ? pair.slice(0, at).trim().toLowerCase() : '';
    let value: string | undefined;
    try {
      value = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      value = undefined;
    }
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name) || value === undefined || /[\r\n\0]/.test(value)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be name=value pairs separated by commas (bad pair: ${pair.slice(0, 40)})`,
      });
      return z.NEVER;
    }
    headers[name] = value;
  }
  return headers;
});

const httpUrl = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return u.protocol === 'http:' || u.protocol === 'https:';
    } catch {
      return false;
    }
  },
  { error: 'must be an http:// or https:// URL' },
);

export const settings = {
  dir: {
    flag: 'dir',
    env: 'TRELLIS_DIR',
    schema: z.string().min(1),
    fallback: '.',
    doc: 'Project folder: data in DIR/.trellis, migrations in DIR/supabase/migrations.',
  },
  port: { flag: 'port', env: 'PORT', schema: int(1, 65535), fallback: '54321', doc: 'HTTP port.' },
  host: {
    flag: 'host',
    env: 'HOST',
    schema: z.string().min(1),
    fallback: '127.0.0.1',
    doc: 'Address the HTTP server binds; 0.0.0.0 to accept connections from other machines.',
  },
  publicUrl: {
    env: 'API_EXTERNAL_URL',
    schema: httpUrl.optional(),
    doc: 'URL clients use to reach this server (printed as API_URL); defaults to http://HOST:PORT.',
  },
  databaseUrl: {
    env: 'DATABASE_URL',
    schema: postgresUrl.optional(),
    doc: 'PostgreSQL server to use instead of the embedded one.',
  },
  databaseReadUrl: {
    env: 'DATABASE_READ_URL',
    schema: z
      .string()
      .transform((s) =>
        s
          .split(',')
          .map((u) => u.trim())
          .filter((u) => u !== ''),
      )
      .pipe(z.array(postgresUrl).max(16, { error: 'at most 16 replicas' })),
    fallback: '',
    doc: 'Read replicas: streaming standbys of DATABASE_URL, comma-separated. Read-only REST GETs and HEADs (tables, views, GET RPCs) and storage metadata reads go to a healthy one; everything else to DATABASE_URL. See docs/deploy/replicas.md.',
  },
  readFenceWaitMs: {
    env: 'DB_READ_FENCE_WAIT_MS',
    schema: int(0, 10_000),
    fallback: '50',
    doc: 'A read from a caller who just wrote waits at most this long for a replica to replay the write, then goes to DATABASE_URL (0: straight to DATABASE_URL).',
  },
  readMaxLagMs: {
    env: 'DB_READ_MAX_LAG_MS',
    schema: int(0, 3_600_000),
    fallback: '5000',
    doc: 'A replica whose replay is further behind DATABASE_URL than this is skipped until it catches up (/ready reports it as degraded).',
  },
  readProbeIntervalMs: {
    env: 'DB_READ_PROBE_INTERVAL_MS',
    schema: int(50, 60_000),
    fallback: '1000',
    doc: 'How often each replica is probed for its replay position; a replica that was down or lagging serves again from the first probe that finds it healthy.',
  },
  jwtSecret: {
    env: 'JWT_SECRET',
    schema: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
    doc: 'HS256 secret for access tokens and API keys; generated on first start when unset. Every instance of a cluster needs the same one.',
  },
  jwtKeys: {
    env: 'AUTH_JWT_KEYS',
    // No length limit: a refusal would print the value, and this one holds private keys.
    schema: z.string().optional(),
    doc: "The signing keys as a JSON array of private JWKs (GoTrue's GOTRUE_JWT_KEYS): ES256 (EC P-256) and RS256 keys, and HS256 `oct` keys; the first key that may sign (`key_ops` with `sign`, or none given) signs access tokens, all verify tokens naming their `kid`. Wins over AUTH_SIGNING_KEYS_PATH and the data folder's keys.",
  },
  signingKeysPath: {
    env: 'AUTH_SIGNING_KEYS_PATH',
    schema: z.string().min(1).optional(),
    doc: "A JSON file of signing keys (the Supabase CLI's `signing_keys_path` format, as AUTH_JWT_KEYS); relative to the working folder, or in config.toml to supabase/. `trellis keys` manages this file when set, else DIR/.trellis/signing-keys.json.",
  },
  poolMax: {
    env: 'DB_POOL_MAX',
    schema: int(1, 1000),
    fallback: '10',
    doc: 'Most connections the server opens to PostgreSQL.',
  },
  poolIdleTimeoutMs: {
    env: 'DB_POOL_IDLE_TIMEOUT_MS',
    schema: int(0, 3_600_000),
    fallback: '10000',
    doc: 'An idle connection is closed after this many milliseconds (0: never).',
  },
  connectTimeoutMs: {
    env: 'DB_CONNECT_TIMEOUT_MS',
    schema: int(100, 60_000),
    fallback: '5000',
    doc: 'Give up opening a connection after this many milliseconds.',
  },
  preparedStatements: {
    env: 'DB_PREPARED_STATEMENTS',
    schema: boolean,
    fallback: 'true',
    doc: 'Name (prepare) the statements requests repeat. Set false behind PgBouncer older than 1.21 in transaction mode.',
  },
  statementTimeoutMs: {
    env: 'DB_STATEMENT_TIMEOUT_MS',
    schema: int(0, 3_600_000),
    fallback: '8000',
    doc: 'PostgreSQL cancels a statement that runs longer (0: no limit). Migrations are not limited.',
  },
  queryTimeoutMs: {
    env: 'DB_QUERY_TIMEOUT_MS',
    schema: int(0, 3_600_000).optional(),
    doc: 'Client-side deadline of each statement: when PostgreSQL does not answer within it (a frozen server, a black-holed network), the connection is dropped and the request answered 503 (0: none). Defaults to DB_STATEMENT_TIMEOUT_MS + 2000 (none when that is 0). Migrations are not limited.',
  },
  drainGrace: {
    env: 'DRAIN_GRACE_SECONDS',
    schema: int(0, 3600),
    fallback: '5',
    doc: 'On SIGTERM, /ready answers 503 at once and requests are still served for this many seconds (for the load balancer to notice) before the server stops; SIGINT and a second signal skip it; 0: stop at once.',
  },
  metricsPublic: {
    env: 'METRICS_PUBLIC',
    schema: boolean,
    fallback: 'false',
    doc: 'Serve /metrics to anyone. By default it needs the service_role key (apikey header or bearer token).',
  },
  redisUrl: {
    env: 'REDIS_URL',
    schema: z
      .string()
      .regex(/^rediss?:\/\//, { error: 'must be a redis:// or rediss:// URL' })
      .optional(),
    doc: 'Redis for state shared by a cluster (rate-limit counters, pub/sub); in-process when unset.',
  },
  workers: {
    flag: 'workers',
    env: 'TRELLIS_WORKERS',
    schema: z
      .string()
      .regex(/^(auto|\d+)$/, { error: 'must be auto or a whole number between 1 and 64' })
      .transform((s): 'auto' | number => (s === 'auto' ? 'auto' : Number(s)))
      .refine((n) => n === 'auto' || (n >= 1 && n <= 64), {
        error: 'must be auto or a whole number between 1 and 64',
      })
      .optional(),
    doc: 'Server processes sharing the port and one database (`trellis start --workers N`); auto: the available cores, at most 8. Default: auto when NODE_ENV=production, 1 otherwise.',
  },
  bus: {
    env: 'TRELLIS_BUS',
    schema: z.enum(['auto', 'memory', 'postgres'], { error: 'must be auto, memory or postgres' }),
    fallback: 'auto',
    doc: 'Realtime bus between processes. auto: Redis when REDIS_URL is set, PostgreSQL LISTEN/NOTIFY when several workers run, in-process otherwise; postgres: LISTEN/NOTIFY even for one process (instances sharing a database without Redis).',
  },
  trustProxy: {
    env: 'TRUST_PROXY',
    schema: boolean,
    fallback: 'false',
    doc: 'Take the client address from the last X-Forwarded-For entry (set it when a load balancer or reverse proxy sits in front). Rate limits key on this address.',
  },
  rateLimitRest: {
    env: 'RATE_LIMIT_REST',
    schema: rate,
    fallback: 'off',
    doc: 'Data API requests (/rest/v1) per user (JWT sub), or per client address without one, per window: COUNT/WINDOW such as 100/1m, or off.',
  },
  rateLimitStorage: {
    env: 'RATE_LIMIT_STORAGE',
    schema: rate,
    fallback: 'off',
    doc: 'Storage requests (/storage/v1) per user or client address per window, as RATE_LIMIT_REST.',
  },
  rateLimitFunctions: {
    env: 'RATE_LIMIT_FUNCTIONS',
    schema: rate,
    fallback: 'off',
    doc: 'Edge function calls (/functions/v1) per user or client address per window, as RATE_LIMIT_REST.',
  },
  rateLimitRealtime: {
    env: 'RATE_LIMIT_REALTIME',
    schema: rate,
    fallback: 'off',
    doc: 'Realtime messages (broadcast, presence, the broadcast API) per user or client address per window, across the cluster, as RATE_LIMIT_REST.',
  },
  jwtExpiry: {
    env: 'JWT_EXPIRY',
    schema: int(30, 604_800),
    fallback: '3600',
    doc: 'Lifetime of an access token, in seconds.',
  },
  sessionCheck: {
    env: 'AUTH_SESSION_CHECK_SECONDS',
    schema: int(0, 3600),
    fallback: '0',
    doc: 'Refuse an access token whose session is gone (signed out, user deleted or banned) on every API, not only /auth; each answer is cached this many seconds, and revocations reach every instance at once by NOTIFY. 0: off, as on Supabase, where a token is good until it expires.',
  },
  refreshReuseInterval: {
    env: 'AUTH_REFRESH_TOKEN_REUSE_INTERVAL',
    schema: int(0, 3600),
    fallback: '10',
    doc: 'Seconds during which a just-used refresh token may be presented again (a client retrying) without revoking its session.',
  },
  siteUrl: {
    env: 'AUTH_SITE_URL',
    schema: httpUrl.optional(),
    doc: 'Where verification links send the user by default; defaults to the API URL.',
  },
  redirectUrls: {
    env: 'AUTH_ADDITIONAL_REDIRECT_URLS',
    schema: z.string(),
    fallback: '',
    doc: 'Comma-separated URLs (a trailing * matches any suffix) that redirect_to may name besides the site URL.',
  },
  emailConfirmation: {
    env: 'AUTH_EMAIL_CONFIRMATION',
    schema: boolean,
    fallback: 'false',
    doc: 'Require new users to confirm their email before signing in (sign-up then returns no session).',
  },
  disableSignup: {
    env: 'AUTH_DISABLE_SIGNUP',
    schema: boolean,
    fallback: 'false',
    doc: 'Refuse new sign-ups (admins can still create users).',
  },
  anonymousSignIns: {
    env: 'AUTH_ANONYMOUS_SIGN_INS',
    schema: boolean,
    fallback: 'false',
    doc: 'Allow signInAnonymously().',
  },
  manualLinking: {
    env: 'AUTH_MANUAL_LINKING_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Let signed-in users link and unlink OAuth identities (linkIdentity, unlinkIdentity).',
  },
  passwordMinLength: {
    env: 'AUTH_PASSWORD_MIN_LENGTH',
    schema: int(6, 72),
    fallback: '6',
    doc: 'Shortest password accepted.',
  },
  otpExpiry: {
    env: 'AUTH_OTP_EXPIRY',
    schema: int(60, 86_400),
    fallback: '3600',
    doc: 'Seconds an emailed link or code stays valid.',
  },
  mfaTotpEnroll: {
    env: 'AUTH_MFA_TOTP_ENROLL_ENABLED',
    schema: boolean,
    fallback: 'true',
    doc: 'Let users enroll TOTP (authenticator app) factors.',
  },
  mfaTotpVerify: {
    env: 'AUTH_MFA_TOTP_VERIFY_ENABLED',
    schema: boolean,
    fallback: 'true',
    doc: 'Let users challenge and verify TOTP factors (sign in at aal2).',
  },
  mfaMaxEnrolledFactors: {
    env: 'AUTH_MFA_MAX_ENROLLED_FACTORS',
    schema: int(0, 1000),
    fallback: '10',
    doc: 'Most MFA factors one user may have; GoTrue never allows more than 10 verified ones, and neither does Trellis.',
  },
  hookCustomAccessTokenEnabled: {
    env: 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Turn on the custom_access_token auth hook, which customises the claims of every access token before it is signed.',
  },
  hookCustomAccessTokenUri: {
    env: 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI',
    schema: z.string().optional(),
    doc: 'Where the custom_access_token hook runs: pg-functions://postgres/<schema>/<function>, https://… or http://localhost….',
  },
  hookCustomAccessTokenSecrets: {
    env: 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS',
    schema: z.string().optional(),
    doc: "Standard-webhooks secrets (v1,whsec_<base64>, several separated by |) that sign the custom_access_token hook's HTTP requests.",
  },
  hookSendEmailEnabled: {
    env: 'AUTH_HOOK_SEND_EMAIL_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Turn on the send_email auth hook, which sends the auth mails instead of the built-in mailer.',
  },
  hookSendEmailUri: {
    env: 'AUTH_HOOK_SEND_EMAIL_URI',
    schema: z.string().optional(),
    doc: 'Where the send_email hook runs: pg-functions://postgres/<schema>/<function>, https://… or http://localhost….',
  },
  hookSendEmailSecrets: {
    env: 'AUTH_HOOK_SEND_EMAIL_SECRETS',
    schema: z.string().optional(),
    doc: "Standard-webhooks secrets (v1,whsec_<base64>, several separated by |) that sign the send_email hook's HTTP requests.",
  },
  hookSendSmsEnabled: {
    env: 'AUTH_HOOK_SEND_SMS_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Turn on the send_sms auth hook, which sends the SMS codes instead of an SMS provider.',
  },
  hookSendSmsUri: {
    env: 'AUTH_HOOK_SEND_SMS_URI',
    schema: z.string().optional(),
    doc: 'Where the send_sms hook runs: pg-functions://postgres/<schema>/<function>, https://… or http://localhost….',
  },
  hookSendSmsSecrets: {
    env: 'AUTH_HOOK_SEND_SMS_SECRETS',
    schema: z.string().optional(),
    doc: "Standard-webhooks secrets (v1,whsec_<base64>, several separated by |) that sign the send_sms hook's HTTP requests.",
  },
  hookMfaVerificationAttemptEnabled: {
    env: 'AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Turn on the mfa_verification_attempt auth hook, which judges each MFA code verification (may reject it).',
  },
  hookMfaVerificationAttemptUri: {
    env: 'AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_URI',
    schema: z.string().optional(),
    doc: 'Where the mfa_verification_attempt hook runs: pg-functions://postgres/<schema>/<function>, https://… or http://localhost….',
  },
  hookMfaVerificationAttemptSecrets: {
    env: 'AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_SECRETS',
    schema: z.string().optional(),
    doc: "Standard-webhooks secrets (v1,whsec_<base64>, several separated by |) that sign the mfa_verification_attempt hook's HTTP requests.",
  },
  hookPasswordVerificationAttemptEnabled: {
    env: 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Turn on the password_verification_attempt auth hook, which judges each password sign-in of a known user (may reject it).',
  },
  hookPasswordVerificationAttemptUri: {
    env: 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI',
    schema: z.string().optional(),
    doc: 'Where the password_verification_attempt hook runs: pg-functions://postgres/<schema>/<function>, https://… or http://localhost….',
  },
  hookPasswordVerificationAttemptSecrets: {
    env: 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_SECRETS',
    schema: z.string().optional(),
    doc: "Standard-webhooks secrets (v1,whsec_<base64>, several separated by |) that sign the password_verification_attempt hook's HTTP requests.",
  },
  hookHttpTimeoutMs: {
    env: 'AUTH_HOOK_HTTP_TIMEOUT_MS',
    schema: int(100, 60_000),
    fallback: '5000',
    doc: 'Milliseconds an HTTP auth hook has to answer, all retries included (GoTrue: 5 s).',
  },
  hookPgTimeoutMs: {
    env: 'AUTH_HOOK_PG_TIMEOUT_MS',
    schema: int(10, 60_000),
    fallback: '2000',
    doc: 'statement_timeout of a Postgres-function auth hook, in milliseconds (GoTrue: 2 s).',
  },
  // WebAuthn (MFA factors and passkeys) and the OAuth 2.1 server: src/auth/webauthn*.ts, passkeys*.ts, oauth-clients.ts.
  mfaWebAuthnEnroll: {
    env: 'AUTH_MFA_WEB_AUTHN_ENROLL_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: "Let users enroll WebAuthn (security key, platform authenticator) second factors; off answers GoTrue's 422 mfa_webauthn_enroll_not_enabled.",
  },
  mfaWebAuthnVerify: {
    env: 'AUTH_MFA_WEB_AUTHN_VERIFY_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Let users challenge and verify WebAuthn second factors; off answers 422 mfa_webauthn_verify_not_enabled.',
  },
  webauthnRpDisplayName: {
    env: 'AUTH_WEBAUTHN_RP_DISPLAY_NAME',
    schema: z.string().min(1).max(256),
    fallback: 'Trellis',
    doc: 'Relying-party name an authenticator shows when it creates a WebAuthn credential or passkey.',
  },
  webauthnRpId: {
    env: 'AUTH_WEBAUTHN_RP_ID',
    schema: z
      .string()
      .regex(/^[a-z0-9.-]+$/i, { error: 'must be a host name such as example.com' })
      .optional(),
    doc: 'WebAuthn relying-party id: the domain credentials are bound to (default: the host of the site URL).',
  },
  webauthnRpOrigins: {
    env: 'AUTH_WEBAUTHN_RP_ORIGINS',
    schema: z.string().optional(),
    doc: 'Comma-separated origins (https://app.example.com) a WebAuthn response may come from (default: the origin of the site URL).',
  },
  passkeyEnabled: {
    env: 'AUTH_PASSKEY_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: "Serve /passkeys (passkey registration and sign-in); off answers GoTrue's 404 passkey_disabled.",
  },
  securePasswordChange: {
    env: 'AUTH_SECURE_PASSWORD_CHANGE',
    schema: boolean,
    fallback: 'false',
    doc: 'A password change needs the nonce GET /reauthenticate mailed (updateUser({ password, nonce })), unless the session signed in within the last 24 hours.',
  },
  oauthServerEnabled: {
    env: 'AUTH_OAUTH_SERVER_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: "Serve the OAuth 2.1 server's client registry (/admin/oauth/clients); off answers GoTrue's 404 feature_disabled.",
  },
  oauthServerAuthorizationPath: {
    env: 'AUTH_OAUTH_SERVER_AUTHORIZATION_URL_PATH',
    schema: z
      .string()
      .max(512)
      .regex(/^\/?[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/, { error: 'must be a URL path such as /oauth/consent' }),
    fallback: '/oauth/consent',
    doc: "The app's consent page, under the site URL: /oauth/authorize sends the user there with ?authorization_id=.",
  },
  oauthServerDynamicRegistration: {
    env: 'AUTH_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION',
    schema: boolean,
    fallback: 'false',
    doc: 'Let anyone register an OAuth client with POST /oauth/clients/register (RFC 7591); off answers 403 oauth_dynamic_client_registration_disabled.',
  },
  rateLimitSignIn: {
    env: 'AUTH_RATE_LIMIT_SIGN_IN',
    schema: int(1, 1_000_000),
    fallback: '30',
    doc: 'Sign-ups (email and password) per IP address per 5 minutes; password sign-ins count in AUTH_RATE_LIMIT_TOKEN_PASSWORD.',
  },
  rateLimitTokenPassword: {
    env: 'AUTH_RATE_LIMIT_TOKEN_PASSWORD',
    schema: int(1, 1_000_000).optional(),
    // Unset, it takes AUTH_RATE_LIMIT_SIGN_IN's number, which used to cover password sign-ins too:
    // a deployment that raised that limit keeps its sign-ins' budget when the two part.
    doc: 'Password sign-ins (POST /token?grant_type=password) per IP address per 5 minutes, counted apart from sign-ups as GoTrue counts /token apart from /signup (default: the value of AUTH_RATE_LIMIT_SIGN_IN).',
  },

  rateLimitTokenRefresh: {
    env: 'AUTH_RATE_LIMIT_TOKEN_REFRESH',
    schema: int(1, 1_000_000),
    fallback: '150',
    doc: 'Refresh-token grants per IP address per 5 minutes.',
  },
  rateLimitVerify: {
    env: 'AUTH_RATE_LIMIT_VERIFY',
    schema: int(1, 1_000_000),
    fallback: '30',
    doc: 'OTP, link and TOTP verification attempts per IP address per 5 minutes.',
  },
  rateLimitEmailSent: {
    env: 'AUTH_RATE_LIMIT_EMAIL_SENT',
    schema: int(1, 1_000_000),
    fallback: '30',
    doc: 'Emails (confirmation, magic link, recovery) sent per hour, across the whole server.',
  },
  emailMaxFrequency: {
    env: 'AUTH_EMAIL_MAX_FREQUENCY',
    schema: int(0, 86_400),
    fallback: '60',
    doc: 'Seconds before another email may go to the same address (0: no minimum).',
  },
  rateLimitEmailPerAddress: {
    env: 'AUTH_RATE_LIMIT_EMAIL_PER_ADDRESS',
    schema: int(1, 1_000_000),
    fallback: '10',
    doc: 'Emails sent to one address per hour (besides AUTH_EMAIL_MAX_FREQUENCY), so one inbox cannot be flooded.',
  },
  rateLimitEmailPerIp: {
    env: 'AUTH_RATE_LIMIT_EMAIL_PER_IP',
    schema: int(1, 1_000_000),
    fallback: '10',
    doc: 'Emails the requests of one client address may cause per hour (admin invites with the service role key are not counted).',
  },
  emailReservePercent: {
    env: 'AUTH_EMAIL_RESERVE_PERCENT',
    schema: int(0, 100),
    fallback: '25',
    doc: 'Share of AUTH_RATE_LIMIT_EMAIL_SENT kept for recovery and sign-in mails to confirmed users: mails to new or unconfirmed addresses may use only the rest.',
  },
  rateLimitPasswordFailures: {
    env: 'AUTH_RATE_LIMIT_PASSWORD_FAILURES',
    schema: int(1, 1_000_000),
    fallback: '10',
    doc: 'Wrong passwords one account (email address) may get per AUTH_PASSWORD_FAILURE_WINDOW, from any client address; beyond, its password sign-in is refused (429), right password or not, until the window ends.',
  },
  passwordFailureWindow: {
    env: 'AUTH_PASSWORD_FAILURE_WINDOW',
    schema: int(1, 86_400),
    fallback: '900',
    doc: 'Seconds of the window AUTH_RATE_LIMIT_PASSWORD_FAILURES counts in, from the first wrong password.',
  },
  otpMaxAttempts: {
    env: 'AUTH_OTP_MAX_ATTEMPTS',
    schema: int(1, 1000),
    fallback: '5',
    doc: 'Wrong codes an emailed one-time code or a TOTP challenge takes before it is invalidated (then even the right code is refused).',
  },
  rateLimitAnonymous: {
    env: 'AUTH_RATE_LIMIT_ANONYMOUS_USERS',
    schema: int(1, 1_000_000),
    fallback: '30',
    doc: 'Anonymous sign-ins per IP address per hour.',
  },
  smsEnabled: {
    env: 'AUTH_SMS_ENABLE_SIGNUP',
    schema: boolean,
    fallback: 'false',
    doc: "Turn phone sign-ups and sign-ins on (GoTrue's phone provider): signUp, signInWithOtp and signInWithPassword with a phone number, phone changes.",
  },
  smsConfirmation: {
    env: 'AUTH_SMS_CONFIRMATION',
    schema: boolean,
    fallback: 'false',
    doc: "Phone sign-ups must confirm their number with a texted code before they get a session (off: the number is taken as confirmed, GoTrue's SMS autoconfirm).",
  },
  smsProvider: {
    env: 'AUTH_SMS_PROVIDER',
    schema: z.enum(['', 'twilio', 'twilio_verify', 'messagebird', 'textlocal', 'vonage'], {
      error: 'must be twilio, twilio_verify, messagebird, textlocal or vonage',
    }),
    fallback: '',
    doc: 'The SMS gateway that carries codes: twilio, twilio_verify, messagebird, textlocal or vonage. Unset: only test numbers (AUTH_SMS_TEST_OTP) get codes; others answer 500 as on GoTrue.',
  },
  smsApiUrl: {
    env: 'AUTH_SMS_API_URL',
    schema: httpUrl.optional(),
    doc: "Base URL of the chosen provider's API instead of its public one (a regional endpoint, a test server).",
  },
  smsTimeout: {
    env: 'AUTH_SMS_TIMEOUT_MS',
    schema: int(100, 120_000),
    fallback: '10000',
    doc: 'Milliseconds a provider has to answer before the send fails (GoTrue waits 10 s).',
  },
  smsTemplate: {
    env: 'AUTH_SMS_TEMPLATE',
    schema: z.string().min(1).max(1000),
    fallback: 'Your code is {{ .Code }}',
    doc: 'Text of the message; {{ .Code }} is replaced by the code.',
  },
  smsMaxFrequency: {
    env: 'AUTH_SMS_MAX_FREQUENCY',
    schema: int(0, 86_400),
    fallback: '60',
    doc: 'Seconds before another code may be texted to the same number (0: no minimum).',
  },
  smsOtpExpiry: {
    env: 'AUTH_SMS_OTP_EXPIRY',
    schema: int(10, 86_400),
    fallback: '60',
    doc: "Seconds a texted code stays valid (GoTrue's default: 60).",
  },
  smsOtpLength: {
    env: 'AUTH_SMS_OTP_LENGTH',
    schema: int(6, 10),
    fallback: '6',
    doc: 'Digits of a texted code.',
  },
  smsTestOtp: {
    env: 'AUTH_SMS_TEST_OTP',
    schema: z.string().regex(/^\s*(\+?[0-9 ]+=[0-9]{1,10}\s*(,\s*\+?[0-9 ]+=[0-9]{1,10}\s*)*)?$/, {
      error: 'must be a comma-separated list of number=code, e.g. 15555550100=123456',
    }),
    fallback: '',
    doc: 'Test numbers with a fixed code, "number=code,…": no message is sent to them and their code always works (until AUTH_SMS_TEST_OTP_VALID_UNTIL).',
  },
  smsTestOtpValidUntil: {
    env: 'AUTH_SMS_TEST_OTP_VALID_UNTIL',
    schema: z.iso.datetime({ offset: true, error: 'must be an ISO 8601 time such as 2030-01-01T00:00:00Z' }).optional(),
    doc: 'After this time the test numbers of AUTH_SMS_TEST_OTP are ordinary numbers again. Unset: for ever.',
  },
  rateLimitSmsSent: {
    env: 'AUTH_RATE_LIMIT_SMS_SENT',
    schema: int(1, 1_000_000),
    fallback: '30',
    doc: 'Text messages sent per hour, across the whole server (test numbers not counted).',
  },
  mfaPhoneEnroll: {
    env: 'AUTH_MFA_PHONE_ENROLL_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Let users enroll phone second factors (a code texted at each challenge).',
  },
  mfaPhoneVerify: {
    env: 'AUTH_MFA_PHONE_VERIFY_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: 'Let users challenge and verify phone second factors (sign in at aal2).',
  },
  mfaPhoneOtpLength: {
    env: 'AUTH_MFA_PHONE_OTP_LENGTH',
    schema: int(6, 10),
    fallback: '6',
    doc: 'Digits of a phone factor code.',
  },
  mfaPhoneTemplate: {
    env: 'AUTH_MFA_PHONE_TEMPLATE',
    schema: z.string().min(1).max(1000),
    fallback: 'Your code is {{ .Code }}',
    doc: 'Text of a phone factor message; {{ .Code }} is replaced by the code.',
  },
  mfaPhoneMaxFrequency: {
    env: 'AUTH_MFA_PHONE_MAX_FREQUENCY',
    schema: int(0, 86_400),
    fallback: '60',
    doc: 'Seconds before a phone factor may be challenged (texted) again.',
  },
  twilioAccountSid: {
    env: 'AUTH_SMS_TWILIO_ACCOUNT_SID',
    schema: z.string(),
    fallback: '',
    doc: 'Twilio account SID.',
  },
  twilioAuthToken: { env: 'AUTH_SMS_TWILIO_AUTH_TOKEN', schema: z.string(), fallback: '', doc: 'Twilio auth token.' },
  twilioMessageServiceSid: {
    env: 'AUTH_SMS_TWILIO_MESSAGE_SERVICE_SID',
    schema: z.string(),
    fallback: '',
    doc: 'Twilio messaging service SID or sending number (the From of each message).',
  },
  twilioContentSid: {
    env: 'AUTH_SMS_TWILIO_CONTENT_SID',
    schema: z.string(),
    fallback: '',
    doc: 'Twilio content template for WhatsApp codes (the code fills its variable 1); unset: WhatsApp gets the text of AUTH_SMS_TEMPLATE.',
  },
  twilioVerifyAccountSid: {
    env: 'AUTH_SMS_TWILIO_VERIFY_ACCOUNT_SID',
    schema: z.string(),
    fallback: '',
    doc: 'Twilio account SID for Twilio Verify.',
  },
  twilioVerifyAuthToken: {
    env: 'AUTH_SMS_TWILIO_VERIFY_AUTH_TOKEN',
    schema: z.string(),
    fallback: '',
    doc: 'Twilio auth token for Twilio Verify.',
  },
  twilioVerifyMessageServiceSid: {
    env: 'AUTH_SMS_TWILIO_VERIFY_MESSAGE_SERVICE_SID',
    schema: z.string(),
    fallback: '',
    doc: 'Twilio Verify service SID (VA…).',
  },
  messagebirdAccessKey: {
    env: 'AUTH_SMS_MESSAGEBIRD_ACCESS_KEY',
    schema: z.string(),
    fallback: '',
    doc: 'MessageBird access key.',
  },
  messagebirdOriginator: {
    env: 'AUTH_SMS_MESSAGEBIRD_ORIGINATOR',
    schema: z.string(),
    fallback: '',
    doc: 'MessageBird originator (sender name or number).',
  },
  textlocalApiKey: { env: 'AUTH_SMS_TEXTLOCAL_API_KEY', schema: z.string(), fallback: '', doc: 'Textlocal API key.' },
  textlocalSender: { env: 'AUTH_SMS_TEXTLOCAL_SENDER', schema: z.string(), fallback: '', doc: 'Textlocal sender.' },
  vonageApiKey: { env: 'AUTH_SMS_VONAGE_API_KEY', schema: z.string(), fallback: '', doc: 'Vonage API key.' },
  vonageApiSecret: { env: 'AUTH_SMS_VONAGE_API_SECRET', schema: z.string(), fallback: '', doc: 'Vonage API secret.' },
  vonageFrom: { env: 'AUTH_SMS_VONAGE_FROM', schema: z.string(), fallback: '', doc: 'Vonage sender (from).' },
  smtpUrl: {
    env: 'SMTP_URL',
    schema: z
      .string()
      .regex(/^smtps?:\/\//, { error: 'must be an smtp:// or smtps:// URL' })
      .optional(),
    doc: 'Mail server, e.g. smtp://user:pass@host:587: the one provider when MAIL_PROVIDERS is empty. Unset too: mails are logged and kept in trellis.mail_outbox.',
  },
  mailProviders: {
    env: 'MAIL_PROVIDERS',
    schema: z.string().transform((text, ctx) => {
      const parsed = parseMailProviders(text);
      if (parsed.ok) return parsed.value;
      ctx.addIssue({ code: 'custom', message: parsed.problem });
      return z.NEVER;
    }),
    fallback: '',
    doc: 'Mail providers in priority order, as a JSON array (config.toml: [[mail.providers]]): kind (smtp, resend, sendgrid, mailgun, postmark, brevo), name, priority, url, api_key, domain, from, daily_quota, monthly_quota (docs/mail.md). Empty: SMTP_URL alone, or the outbox.',
  },
  mailPerAddressPerDay: {
    env: 'MAIL_PER_ADDRESS_PER_DAY',
    schema: int(1, 1_000_000),
    fallback: '10',
    doc: 'App emails (trellis.send_email) one address may be sent per 24 hours; more are refused (SQLSTATE 53400).',
  },
  mailPerIpPerHour: {
    env: 'MAIL_PER_IP_PER_HOUR',
    schema: int(1, 1_000_000),
    fallback: '30',
    doc: 'App emails the data API requests of one client address may queue per hour; more are refused (SQLSTATE 53400).',
  },
  mailLogRetentionDays: {
    env: 'MAIL_LOG_RETENTION_DAYS',
    schema: int(0, 36_500),
    fallback: '30',
    doc: 'Days trellis.mail_log keeps a mail (sent, failed or still waiting); older rows are deleted hourly. 0: kept forever.',
  },
  mailMaxDataBytes: {
    env: 'MAIL_MAX_DATA_BYTES',
    schema: int(2, 16_777_216),
    fallback: '65536',
    doc: 'Largest `data` of one trellis.send_email, in bytes of its JSON text; more is refused (SQLSTATE 54000).',
  },
  smtpFrom: {
    env: 'SMTP_FROM',
    schema: z.string().min(3),
    fallback: 'Trellis <noreply@localhost>',
    doc: 'The From header of outgoing mail.',
  },
  restSchemas: {
    env: 'REST_SCHEMAS',
    schema: z
      .string()
      .regex(/^\s*[^,\s]+(\s*,\s*[^,\s]+)*\s*$/, { error: 'must be a comma-separated list of schema names' }),
    fallback: 'public,pgmq_public,trellis_push',
    doc: 'Schemas the data API exposes (the first is the default; Accept-Profile/Content-Profile pick another). pgmq_public: the queues API (docs/queues.md); trellis_push: web push subscriptions (docs/push.md).',
  },
  restMaxRows: {
    env: 'REST_MAX_ROWS',
    schema: int(1, 1_000_000),
    fallback: '1000',
    doc: 'Most rows one data API response returns, as Supabase\'s "max rows".',
  },
  restMaxBody: {
    env: 'REST_MAX_BODY_BYTES',
    schema: int(1024, 1_073_741_824),
    fallback: '10485760',
    doc: 'Largest request body the data API accepts, in bytes (413 beyond).',
  },
  restMaxResponse: {
    env: 'REST_MAX_RESPONSE_BYTES',
    schema: int(1024, 268_435_456),
    fallback: '33554432',
    doc: 'Largest data API response body, in bytes (413 beyond).',
  },
  restExtraSearchPath: {
    env: 'REST_EXTRA_SEARCH_PATH',
    schema: z
      .string()
      .regex(/^\s*[^,\s]+(\s*,\s*[^,\s]+)*\s*$/, { error: 'must be a comma-separated list of schema names' }),
    fallback: 'public,extensions',
    doc: "Schemas put on each data API request's search_path after the schema it addresses, as PostgREST's db-extra-search-path (Supabase: public, extensions), so functions and computed fields find unqualified names there.",
  },
  restAggregates: {
    env: 'REST_DB_AGGREGATES_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: "Allow aggregate functions in select= (count(), col.sum(), avg, min, max), as PostgREST's db-aggregates-enabled.",
  },
  restPlanEnabled: {
    env: 'REST_DB_PLAN_ENABLED',
    schema: boolean,
    fallback: 'false',
    doc: "Answer Accept: application/vnd.pgrst.plan (EXPLAIN), as PostgREST's db-plan-enabled.",
  },
  restTxEnd: {
    env: 'REST_DB_TX_END',
    schema: z.enum(['commit', 'commit-allow-override', 'rollback', 'rollback-allow-override'], {
      error: 'must be commit, commit-allow-override, rollback or rollback-allow-override',
    }),
    fallback: 'commit-allow-override',
    doc: "How request transactions end and whether Prefer: tx= may change it, as PostgREST's db-tx-end.",
  },
  restCacheEnabled: {
    env: 'REST_CACHE_ENABLED',
    schema: boolean,
    fallback: 'true',
    doc: 'Cache data API reads of the tables and views opted in (a `@cache 30s` comment, or REST_CACHE_TABLES); false: never (docs/rest-cache.md).',
  },
  restCacheTables: {
    env: 'REST_CACHE_TABLES',
    schema: z
      .string()
      .refine((s) => parseCacheTables(s).ok, {
        error: 'must be a comma-separated list of schema.relation=duration, like public.rooms=30s,public.menu=5m',
      })
      .optional(),
    doc: "Relations whose data API reads are cached, and for how long at most (`public.rooms=30s,public.menu=5m`); over a relation's `@cache` comment.",
  },
  restCacheMaxEntries: {
    env: 'REST_CACHE_MAX_ENTRIES',
    schema: int(1, 10_000_000),
    fallback: '10000',
    doc: 'Most responses the in-memory cache keeps (least recently used go first); Redis keeps each for its TTL.',
  },
  restCacheMaxBytes: {
    env: 'REST_CACHE_MAX_BYTES',
    schema: int(65_536, 17_179_869_184),
    fallback: '67108864',
    doc: 'Most bytes (about) the in-memory response cache holds.',
  },
  restCacheMaxEntryBytes: {
    env: 'REST_CACHE_MAX_ENTRY_BYTES',
    schema: int(1024, 268_435_456),
    fallback: '1048576',
    doc: 'A response body larger than this is not cached.',
  },
  storageBackend: {
    env: 'STORAGE_BACKEND',
    schema: z.enum(['local', 's3'], { error: 'must be local or s3' }),
    fallback: 'local',
    doc: 'Where /storage/v1 keeps file bytes: local (DIR/.trellis/storage) or s3 (the STORAGE_S3_* settings).',
  },
  storageFileSizeLimit: {
    env: 'STORAGE_FILE_SIZE_LIMIT',
    schema: int(1, 1_099_511_627_776),
    fallback: '52428800',
    doc: "Largest object any upload may store, in bytes; a bucket's file_size_limit can only lower it.",
  },
  storageImageMaxInput: {
    env: 'STORAGE_IMAGE_MAX_INPUT_BYTES',
    schema: int(1, 1_073_741_824),
    fallback: '26214400',
    doc: 'Largest object the image transformer (/render/image) reads, in bytes.',
  },
  storageResumableExpiry: {
    env: 'STORAGE_RESUMABLE_EXPIRY_MS',
    schema: int(1000, 604_800_000),
    fallback: '86400000',
    doc: 'How long an unfinished resumable (TUS) upload may be resumed, in milliseconds from its creation; older ones are removed by the sweep.',
  },
  storageResumableSweepInterval: {
    env: 'STORAGE_RESUMABLE_SWEEP_INTERVAL_MS',
    schema: int(0, 86_400_000),
    fallback: '600000',
    doc: 'How often expired resumable uploads are removed, in milliseconds (0: never).',
  },
  storageWriteStale: {
    env: 'STORAGE_WRITE_STALE_MS',
    schema: int(1000, 86_400_000),
    fallback: '300000',
    doc: "How long an upload's bytes may go without a row before the orphan sweep removes them, in milliseconds since its writer last renewed its entry (a live writer renews every quarter of this).",
  },
  storageOrphanSweepInterval: {
    env: 'STORAGE_ORPHAN_SWEEP_INTERVAL_MS',
    schema: int(0, 86_400_000),
    fallback: '60000',
    doc: 'How often bytes no row names (a crash between an upload and its row, a removal cut short) are swept, in milliseconds (0: only at start).',
  },
  storageTestCommitDelayMs: {
    env: 'TRELLIS_TEST_STORAGE_COMMIT_DELAY_MS',
    schema: int(0, 60_000),
    fallback: '0',
    doc: "Test only: a pause between an upload's bytes and its row, so a test can kill the server in between.",
  },
  storageTestMoveStopAfter: {
    env: 'TRELLIS_TEST_STORAGE_MOVE_STOP_AFTER',
    schema: int(0, 1_000_000_000).optional(),
    doc: '`trellis storage move` stops (exit 1) after this many objects, as if interrupted.',
  },
  storageS3Endpoint: {
    env: 'STORAGE_S3_ENDPOINT',
    schema: httpUrl.optional(),
    doc: 'S3-compatible endpoint (MinIO, R2, …); unset for AWS S3.',
  },
  storageS3Region: { env: 'STORAGE_S3_REGION', schema: z.string().min(1), fallback: 'us-east-1', doc: 'S3 region.' },
  storageS3Bucket: {
    env: 'STORAGE_S3_BUCKET',
    schema: z.string().min(1).optional(),
    doc: 'The S3 bucket that holds every storage object (required with STORAGE_BACKEND=s3).',
  },
  storageS3AccessKeyId: {
    env: 'STORAGE_S3_ACCESS_KEY_ID',
    schema: z.string().min(1).optional(),
    doc: "S3 access key id; the AWS SDK's default credential chain when unset.",
  },
  storageS3SecretAccessKey: {
    env: 'STORAGE_S3_SECRET_ACCESS_KEY',
    schema: z.string().min(1).optional(),
    doc: 'S3 secret access key.',
  },
  storageS3ForcePathStyle: {
    env: 'STORAGE_S3_FORCE_PATH_STYLE',
    schema: boolean,
    fallback: 'false',
    doc: 'Address the bucket as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT (MinIO and most self-hosted services need true).',
  },

  importS3Endpoint: {
    flag: 's3-endpoint',
    env: 'IMPORT_S3_ENDPOINT',
    schema: httpUrl.optional(),
    doc: '`trellis import --storage-s3`: the S3-compatible endpoint the files are read from; unset for AWS S3.',
  },
  importS3Region: {
    flag: 's3-region',
    env: 'IMPORT_S3_REGION',
    schema: z.string().min(1),
    fallback: 'us-east-1',
    doc: '`trellis import --storage-s3`: the region of the bucket the files are read from.',
  },
  importS3AccessKeyId: {
    env: 'AWS_ACCESS_KEY_ID',
    schema: z.string().min(1).optional(),
    doc: "`trellis import --storage-s3`: access key id; the AWS SDK's default credential chain when unset.",
  },
  importS3SecretAccessKey: {
    env: 'AWS_SECRET_ACCESS_KEY',
    schema: z.string().min(1).optional(),
    doc: '`trellis import --storage-s3`: secret access key.',
  },
  backupTarget: {
    env: 'BACKUP_TARGET',
    schema: z
      .string()
      .min(1)
      .refine((s) => !s.startsWith('s3://') || /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(s), {
        error: 'must be a folder path or s3://bucket/prefix',
      })
      .optional(),
    doc: 'Where backups and archived WAL go: a folder, or s3://bucket/prefix (the BACKUP_S3_* settings). Default DIR/backups, on the same disk as the data: set it to another disk or a bucket.',
  },
  backupS3Endpoint: {
    env: 'BACKUP_S3_ENDPOINT',
    schema: httpUrl.optional(),
    doc: 'S3-compatible endpoint of an s3:// BACKUP_TARGET (MinIO, R2, B2, …); unset for AWS S3.',
  },
  backupS3Region: {
    env: 'BACKUP_S3_REGION',
    schema: z.string().min(1),
    fallback: 'us-east-1',
    doc: 'S3 region of an s3:// BACKUP_TARGET.',
  },
  backupS3AccessKeyId: {
    env: 'BACKUP_S3_ACCESS_KEY_ID',
    schema: z.string().min(1).optional(),
    doc: "S3 access key id for BACKUP_TARGET; the AWS SDK's default credential chain when unset.",
  },
  backupS3SecretAccessKey: {
    env: 'BACKUP_S3_SECRET_ACCESS_KEY',
    schema: z.string().min(1).optional(),
    doc: 'S3 secret access key for BACKUP_TARGET.',
  },
  backupS3ForcePathStyle: {
    env: 'BACKUP_S3_FORCE_PATH_STYLE',
    schema: boolean,
    fallback: 'false',
    doc: 'Address the backup bucket as ENDPOINT/BUCKET (MinIO and most self-hosted services need true).',
  },
  backupArchiveTimeout: {
    env: 'BACKUP_ARCHIVE_TIMEOUT',
    schema: int(1, 86_400),
    fallback: '60',
    doc: "Seconds after which the embedded database closes a WAL segment that holds committed work, so it is archived: at most this much committed work is outside the archive (PostgreSQL's archive_timeout).",
  },
  backupShipInterval: {
    env: 'BACKUP_SHIP_INTERVAL',
    schema: int(1, 3600),
    fallback: '5',
    doc: "Seconds between two passes of the running server's backup service, which ships archived WAL and new storage files to BACKUP_TARGET.",
  },
  partitionMaintenanceInterval: {
    env: 'PARTITION_MAINTENANCE_INTERVAL',
    schema: int(0, 604_800),
    fallback: '3600',
    doc: 'Seconds between two runs of trellis.run_partition_maintenance() (also run at start): months ahead created, old months archived (docs/partitions.md). 0 turns the timer off.',
  },
  cronEnabled: {
    env: 'CRON_ENABLED',
    schema: boolean,
    fallback: 'true',
    doc: 'Run the cron scheduler (cron.schedule jobs, docs/cron.md) in this instance; every instance may, each tick runs once.',
  },
  cronJobTimeout: {
    env: 'CRON_JOB_TIMEOUT',
    schema: int(0, 604_800),
    fallback: '3600',
    doc: 'Seconds a cron job command may run (its statement_timeout); 0: no limit.',
  },
  cronRunRetention: {
    env: 'CRON_RUN_RETENTION_DAYS',
    schema: int(0, 36_500),
    fallback: '7',
    doc: 'Days of cron.job_run_details kept; older runs are deleted. 0 keeps them all.',
  },
  studioEnabled: {
    env: 'STUDIO_ENABLED',
    schema: boolean,
    fallback: 'true',
    doc: 'Serve the Studio dashboard at /studio and its admin API at /studio/api (docs/studio.md).',
  },
  studioPort: {
    env: 'STUDIO_PORT',
    schema: int(1, 65535).optional(),
    doc: 'Serve Studio on this port of HOST instead of under the API port (which then answers 404 for /studio).',
  },
  studioSqlTimeout: {
    env: 'STUDIO_SQL_TIMEOUT_MS',
    schema: int(100, 3_600_000),
    fallback: '15000',
    doc: "Milliseconds a statement run from Studio's SQL editor may take (its statement_timeout) before it is cancelled.",
  },
  studioSessionHours: {
    env: 'STUDIO_SESSION_HOURS',
    schema: int(1, 8760),
    fallback: '12',
    doc: 'Hours a Studio sign-in lasts before the dashboard asks for the password again.',
  },
  functionsCpuLimit: {
    env: 'FUNCTIONS_CPU_LIMIT_MS',
    schema: int(10, 600_000),
    fallback: '2000',
    doc: "Milliseconds of CPU an edge function invocation may use (Supabase: 2 s); past it the function's worker is ended and the call answers 546 WORKER_LIMIT.",
  },
  functionsWallLimit: {
    env: 'FUNCTIONS_WALL_LIMIT_S',
    schema: int(1, 3600),
    fallback: '150',
    doc: 'Seconds an edge function invocation may take to answer (Supabase: 150 s); past it the call answers 504.',
  },
  functionsMemoryLimit: {
    env: 'FUNCTIONS_MEMORY_LIMIT_MB',
    schema: int(16, 16_384),
    fallback: '256',
    doc: "Megabytes of heap a function's worker may hold (Supabase: 256 MB); past it the worker is ended and its calls answer 546 WORKER_LIMIT.",
  },
  functionsConcurrency: {
    env: 'FUNCTIONS_MAX_CONCURRENCY',
    schema: int(1, 10_000),
    fallback: '64',
    doc: 'Invocations one function runs at once in this process; as many more wait, further ones answer 503.',
  },
  functionsWatch: {
    flag: 'dev',
    env: 'FUNCTIONS_WATCH',
    schema: boolean,
    fallback: 'false',
    doc: 'Rebuild a function when its files change (at most every 250 ms, checked on a call); `trellis start --dev` sets it. Off, a function is built on its first call and kept until the server restarts.',
  },
  functionsIdleTimeout: {
    env: 'FUNCTIONS_IDLE_TIMEOUT_S',
    schema: int(0, 86_400),
    fallback: '300',
    doc: "Seconds a function's worker stays up with no call in it before it is stopped (its next call is a cold start); 0: never stopped.",
  },
  functionsMaxBody: {
    env: 'FUNCTIONS_MAX_BODY_BYTES',
    schema: int(0, 1_073_741_824),
    fallback: '20971520',
    doc: 'Largest request body an edge function is given, in bytes (default 20 MiB); a larger one answers 413.',
  },
  jobsEnabled: {
    env: 'JOBS_ENABLED',
    schema: boolean,
    fallback: 'true',
    doc: "Run Trellis's job runner (pg-boss, schema pgboss) in this process: app email, web push and webhook retries run as its jobs (docs/queues.md).",
  },
  jobsTimeout: {
    env: 'JOBS_TIMEOUT',
    schema: int(1, 86_400),
    fallback: '300',
    doc: "Seconds a job of Trellis's runner may run; past them it is taken for dead (its worker gone) and retried.",
  },
  pushVapidPublicKey: {
    env: 'PUSH_VAPID_PUBLIC_KEY',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{86,87}=?$/, { error: 'must be a P-256 public key, base64url (87 characters)' })
      .optional(),
    doc: "Web push's VAPID public key (with PUSH_VAPID_PRIVATE_KEY; `npx web-push generate-vapid-keys`). Unset: a pair made at the first start and kept in the database (docs/push.md).",
  },
  pushVapidPrivateKey: {
    env: 'PUSH_VAPID_PRIVATE_KEY',
    schema: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}=?$/, { error: 'must be a P-256 private key, base64url (43 characters)' })
      .optional(),
    doc: "Web push's VAPID private key, set together with PUSH_VAPID_PUBLIC_KEY.",
  },
  pushVapidSubject: {
    env: 'PUSH_VAPID_SUBJECT',
    schema: z.string().regex(/^(mailto:.+|https:\/\/.+)$/, { error: 'must be a mailto: or https:// URL' }),
    fallback: 'mailto:admin@localhost',
    doc: "The contact push services see in each push's VAPID token (a mailto: or https:// URL): set it to yours in production.",
  },
  pushTimeout: {
    env: 'PUSH_TIMEOUT_MS',
    schema: int(100, 120_000),
    fallback: '10000',
    doc: 'Milliseconds a push service may stay silent on one delivery before it fails (and is retried).',
  },
  pushCaFile: {
    env: 'PUSH_CA_FILE',
    schema: z.string().min(1).optional(),
    doc: "PEM file of CA certificates trusted for push services besides Node's own (a private push service; the tests' loopback one).",
  },
  backupSchedule: {
    env: 'BACKUP_SCHEDULE',
    schema: z.string().min(1).optional(),
    doc: 'Cron expression (5 fields, or 6 with seconds first) on which the running server takes a backup; unset: no scheduled backups.',
  },
  backupKeep: {
    env: 'BACKUP_KEEP',
    schema: int(1, 10_000),
    fallback: '7',
    doc: 'Complete backups kept by prune (after each scheduled backup and `trellis backup prune`); older ones and the WAL only they need are deleted.',
  },
  backupTestDelayMs: {
    env: 'TRELLIS_TEST_BACKUP_DELAY_MS',
    schema: int(0, 60_000),
    fallback: '0',
    doc: 'Test only: a pause after each file of a base backup is copied, so a test can interrupt a backup half-way.',
  },
  netSender: {
    env: 'NET_SENDER',
    schema: boolean,
    fallback: 'true',
    doc: 'Run the sender of net.http_* requests and database webhooks in this instance (docs/webhooks.md); every instance may, a claim keeps them from sending one request twice.',
  },
  netConcurrency: {
    env: 'NET_CONCURRENCY',
    schema: int(1, 1000),
    fallback: '16',
    doc: 'Most net.http_* requests and webhooks one instance sends at once.',
  },
  netPollInterval: {
    env: 'NET_POLL_INTERVAL_MS',
    schema: int(100, 3_600_000),
    fallback: '5000',
    doc: "Milliseconds between two looks at net.http_request_queue when no NOTIFY wakes the sender (a backstop: the queue's NOTIFY at commit is what normally starts a request).",
  },
  netResponseTtl: {
    env: 'NET_RESPONSE_TTL',
    schema: int(0, 31_536_000),
    fallback: '21600',
    doc: "Seconds net._http_response rows are kept (pg_net's default: 6 hours); 0 keeps them.",
  },
  netMaxResponseBytes: {
    env: 'NET_MAX_RESPONSE_BYTES',
    schema: int(0, 104_857_600),
    fallback: '1048576',
    doc: 'Most bytes of a response body kept in net._http_response.content; the rest is dropped.',
  },
  webhookRetries: {
    env: 'WEBHOOK_RETRIES',
    schema: int(0, 20),
    fallback: '3',
    doc: 'Attempts after the first for a database webhook (supabase_functions.http_request) that met a network error, a timeout, a 5xx or a 429; plain net.http_* requests are sent once, as pg_net sends them.',
  },
  webhookRetryBackoff: {
    env: 'WEBHOOK_RETRY_BACKOFF_MS',
    schema: int(10, 3_600_000),
    fallback: '1000',
    doc: "Milliseconds before a webhook's first retry, doubled for each further one (at most an hour); a Retry-After header takes its place.",
  },
  webhookSecret: {
    env: 'WEBHOOK_SECRET',
    schema: z
      .string()
      .regex(/^(v1,)?whsec_[A-Za-z0-9+/]{22,}={0,2}( +(v1,)?whsec_[A-Za-z0-9+/]{22,}={0,2})*$/, {
        error: 'must be whsec_<base64> (Standard Webhooks), or several separated by spaces',
      })
      .optional(),
    doc: 'The Standard Webhooks secret database webhooks are signed with, whsec_<base64> (several separated by spaces sign with each, for a rotation); unset: one made on first start and kept in .trellis/secrets.json.',
  },

  realtimeMaxConnections: {
    env: 'REALTIME_MAX_CONNECTIONS',
    schema: int(1, 1_000_000),
    fallback: '10000',
    doc: 'Most realtime sockets one instance holds open; more are refused (HTTP 503 on the upgrade).',
  },
  realtimeMaxChannels: {
    env: 'REALTIME_MAX_CHANNELS_PER_CLIENT',
    schema: int(1, 10_000),
    fallback: '100',
    doc: "Most channels one realtime socket may join at once (Supabase's default: 100).",
  },
  realtimeMaxEvents: {
    env: 'REALTIME_MAX_EVENTS_PER_SECOND',
    schema: int(1, 1_000_000),
    fallback: '100',
    doc: 'Messages (broadcast, presence, other pushes) one realtime socket may send per second; heartbeats do not count.',
  },
  realtimeMaxTenantEvents: {
    env: 'REALTIME_MAX_TENANT_EVENTS_PER_SECOND',
    schema: int(1, 100_000_000),
    fallback: '20000',
    doc: 'Messages all the sockets may send per second together: of the whole cluster with REDIS_URL (counted in Redis), of this instance without.',
  },
  realtimeMaxPayload: {
    env: 'REALTIME_MAX_PAYLOAD_BYTES',
    schema: int(1024, 67_108_864),
    fallback: '262144',
    doc: "Largest broadcast or presence payload, in bytes (Supabase's free-plan limit: 256 KB).",
  },
  realtimeMaxBuffered: {
    env: 'REALTIME_MAX_BUFFERED_BYTES',
    schema: int(65_536, 1_073_741_824),
    fallback: '4194304',
    doc: 'A socket whose unsent data grows past this many bytes (a slow consumer) is disconnected.',
  },
  realtimeHeartbeatTimeout: {
    env: 'REALTIME_HEARTBEAT_TIMEOUT_MS',
    schema: int(1000, 3_600_000),
    fallback: '60000',
    doc: 'A realtime socket that sends nothing (not even a heartbeat) for this long is closed and its presences leave.',
  },
  realtimeReplicationTimeout: {
    env: 'REALTIME_REPLICATION_TIMEOUT_MS',
    schema: int(1000, 3_600_000),
    fallback: '30000',
    doc: 'The postgres_changes replication stream: nothing from PostgreSQL for this long (a frozen server, a black-holed network) and the WAL consumer reconnects.',
  },
  tracingEndpoint: {
    env: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    schema: httpUrl.optional(),
    doc: "OpenTelemetry collector's base URL: when set, spans of every request and SQL statement are exported to <it>/v1/traces (OTLP over HTTP, OTEL_EXPORTER_OTLP_PROTOCOL's encoding). Unset: no spans (a client's traceparent still reaches the request's log line).",
  },
  tracingServiceName: {
    env: 'OTEL_SERVICE_NAME',
    schema: z.string().min(1).max(200),
    fallback: 'trellis',
    doc: 'The service.name of exported spans.',
  },
  tracingProtocol: {
    env: 'OTEL_EXPORTER_OTLP_PROTOCOL',
    schema: z.enum(['http/protobuf', 'http/json'], {
      error:
        "must be http/protobuf or http/json (OTLP over gRPC is not supported: use the collector's HTTP port, 4318)",
    }),
    fallback: 'http/protobuf',
    doc: 'How spans are encoded to the collector: http/protobuf (the OTel default) or http/json.',
  },
  tracingHeaders: {
    env: 'OTEL_EXPORTER_OTLP_HEADERS',
    schema: otlpHeaders,
    fallback: '',
    doc: "Headers sent with every export, as name=value pairs separated by commas, values percent-encoded (a vendor's API key: `x-honeycomb-team=KEY`). Never logged.",
  },
  tracingSampler: {
    env: 'OTEL_TRACES_SAMPLER',
    schema: z.enum(
      [
        'always_on',
        'always_off',
        'traceidratio',
        'parentbased_always_on',
        'parentbased_always_off',
        'parentbased_traceidratio',
      ],
      {
        error:
          'must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio',
      },
    ),
    fallback: 'parentbased_always_on',
    doc: "Which traces are recorded, as the OTel spec names samplers: parentbased_* follow the caller's traceparent (its sampled flag) and apply the rest to new traces; traceidratio keeps the share OTEL_TRACES_SAMPLER_ARG gives.",
  },
  tracingSamplerArg: {
    env: 'OTEL_TRACES_SAMPLER_ARG',
    schema: z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?)$/, { error: 'must be a number from 0 to 1' })
      .pipe(z.coerce.number()),
    fallback: '1',
    doc: 'The share of new traces the traceidratio samplers keep (0 to 1).',
  },
  tracingExportDelay: {
    env: 'OTEL_BSP_SCHEDULE_DELAY',
    schema: int(1, 600_000),
    fallback: '5000',
    doc: 'Milliseconds between two exports of finished spans.',
  },
  sentryDsn: {
    env: 'SENTRY_DSN',
    schema: httpUrl.optional(),
    doc: 'Where unhandled errors are reported (a Sentry DSN, or any server speaking its protocol); unset: they are only logged.',
  },
  sentryEnvironment: {
    env: 'SENTRY_ENVIRONMENT',
    schema: z.string().min(1).max(200),
    fallback: 'production',
    doc: 'The environment reported errors are filed under.',
  },
  logLevel: {
    env: 'LOG_LEVEL',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    fallback: 'info',
    doc: 'Least severe log level written.',
  },
} as const;
