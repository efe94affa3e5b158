/**
 * supabase/config.toml, the Supabase CLI's project file, turned into Trellis settings: pure, from the
 * file's text and an environment (for `env(NAME)` values) to the value each setting's environment
 * variable would hold, so that src/config.ts validates them as it validates its variables (which
 * still win over the file). Keys Trellis does not apply are listed when set to anything but
 * Supabase's default (toml-unapplied.ts). How the CLI reads the file: pkg/config in supabase/cli.
 */
import { parse, TomlError } from 'smol-toml';
import { coerce, type TomlKind } from './toml-values.js';
import { unappliedKeys } from './toml-unapplied.js';
import { PROVIDER_KEYS, providerEnvName } from './external.js';

/** One setting's value from the file: the text its environment variable would hold, and its key. */
export interface TomlSetting {
  readonly raw: string;
  readonly key: string;
  readonly line: number | undefined;
}

export interface SupabaseToml {
  /** Setting values by the environment variable each stands in for (`REST_MAX_ROWS`). */
  readonly settings: Readonly<Record<string, TomlSetting>>;
  /** [db.seed]: the seed files (globs relative to supabase/, in order), or undefined if the file has none. */
  readonly seed: { readonly enabled: boolean; readonly paths: readonly string[] } | undefined;
  /** [storage.buckets.<name>]: buckets made (or updated) on every start, as `supabase start` does. */
  readonly buckets: readonly ConfigBucket[];
  /** [storage.stores.<name>]: where buckets that name the store keep their bytes. */
  readonly stores: readonly ConfigStore[];
  /** [functions.<name>]: per-function settings (verify_jwt, enabled). */
  readonly functions: readonly ConfigFunction[];
  /** Keys set to something other than Supabase's default that Trellis does not apply. */
  readonly unapplied: readonly string[];
}

/** A bucket of config.toml; an unset property keeps an existing bucket's value (a new one's default). */
export interface ConfigBucket {
  readonly name: string;
  readonly public: boolean | undefined;
  readonly fileSizeLimit: number | undefined;
  readonly allowedMimeTypes: readonly string[] | undefined;
  /** The [storage.stores.<name>] its bytes are kept in; undefined keeps the bucket's (a new one's: the default store). */
  readonly store: string | undefined;
}

/** A store of config.toml: a local folder, or an S3-compatible bucket with credentials of its own. */
export type ConfigStore =
  | { readonly name: string; readonly kind: 'local'; readonly path: string }
  | {
      readonly name: string;
      readonly kind: 's3';
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly bucket: string;
      readonly accessKeyId: string | undefined;
      readonly secretAccessKey: string | undefined;
      readonly forcePathStyle: boolean;
    };

/** A function's table of config.toml; unset keys take Supabase's defaults (both true). */
export interface ConfigFunction {
  readonly name: string;
  readonly verifyJwt: boolean;
  readonly enabled: boolean;
}

export interface TomlProblem {
  readonly line: number | undefined;
  /** Where on the line, for a file that does not parse. */
  readonly column?: number;
  readonly key: string | undefined;
  readonly message: string;
}

export type TomlResult =
  { readonly ok: true; readonly value: SupabaseToml } | { readonly ok: false; readonly problem: TomlProblem };

export type TomlEnv = Readonly<Record<string, string | undefined>>;

/** Keys that map one to one onto a setting. */
const DIRECT: ReadonlyArray<readonly [key: string, env: string, kind: TomlKind]> = [
  ['api.port', 'PORT', 'int'],
  // Not a Supabase CLI key (Supabase's replicas are a platform setting): Trellis's own, under [db].
  ['db.read_replicas', 'DATABASE_READ_URL', 'list'],
  ['api.schemas', 'REST_SCHEMAS', 'list'],
  ['api.max_rows', 'REST_MAX_ROWS', 'int'],
  ['api.extra_search_path', 'REST_EXTRA_SEARCH_PATH', 'list'],
  ['api.external_url', 'API_EXTERNAL_URL', 'string'],
  // Trellis's own table (the CLI has none): the data API's limits, as RATE_LIMIT_*.
  ['api.rate_limits.rest', 'RATE_LIMIT_REST', 'string'],
  ['api.rate_limits.storage', 'RATE_LIMIT_STORAGE', 'string'],
  ['api.rate_limits.functions', 'RATE_LIMIT_FUNCTIONS', 'string'],
  ['api.rate_limits.realtime', 'RATE_LIMIT_REALTIME', 'string'],
  ['api.cache.enabled', 'REST_CACHE_ENABLED', 'bool'],
  ['auth.site_url', 'AUTH_SITE_URL', 'string'],
  ['auth.jwt_secret', 'JWT_SECRET', 'string'],
  ['auth.additional_redirect_urls', 'AUTH_ADDITIONAL_REDIRECT_URLS', 'list'],
  ['auth.jwt_expiry', 'JWT_EXPIRY', 'int'],
  ['auth.signing_keys_path', 'AUTH_SIGNING_KEYS_PATH', 'string'],
  ['auth.refresh_token_reuse_interval', 'AUTH_REFRESH_TOKEN_REUSE_INTERVAL', 'int'],
  ['auth.enable_anonymous_sign_ins', 'AUTH_ANONYMOUS_SIGN_INS', 'bool'],
  ['auth.enable_manual_linking', 'AUTH_MANUAL_LINKING_ENABLED', 'bool'],
  ['auth.minimum_password_length', 'AUTH_PASSWORD_MIN_LENGTH', 'int'],
  ['auth.rate_limit.anonymous_users', 'AUTH_RATE_LIMIT_ANONYMOUS_USERS', 'int'],
  ['auth.rate_limit.token_refresh', 'AUTH_RATE_LIMIT_TOKEN_REFRESH', 'int'],
  // GoTrue's one "sign-ins and sign-ups" budget; Trellis counts password sign-ins apart, and
  // AUTH_RATE_LIMIT_TOKEN_PASSWORD takes this number when it is not set itself.
  ['auth.rate_limit.sign_in_sign_ups', 'AUTH_RATE_LIMIT_SIGN_IN', 'int'],
  ['auth.rate_limit.token_verifications', 'AUTH_RATE_LIMIT_VERIFY', 'int'],
  ['auth.email.enable_confirmations', 'AUTH_EMAIL_CONFIRMATION', 'bool'],
  ['auth.email.max_frequency', 'AUTH_EMAIL_MAX_FREQUENCY', 'duration'],
  ['auth.email.otp_expiry', 'AUTH_OTP_EXPIRY', 'int'],
  ['auth.sms.enable_signup', 'AUTH_SMS_ENABLE_SIGNUP', 'bool'],
  ['auth.sms.enable_confirmations', 'AUTH_SMS_CONFIRMATION', 'bool'],
  ['auth.sms.template', 'AUTH_SMS_TEMPLATE', 'string'],
  ['auth.sms.max_frequency', 'AUTH_SMS_MAX_FREQUENCY', 'duration'],
  ['auth.rate_limit.sms_sent', 'AUTH_RATE_LIMIT_SMS_SENT', 'int'],
  ['auth.mfa.phone.enroll_enabled', 'AUTH_MFA_PHONE_ENROLL_ENABLED', 'bool'],
  ['auth.mfa.phone.verify_enabled', 'AUTH_MFA_PHONE_VERIFY_ENABLED', 'bool'],
  ['auth.mfa.phone.otp_length', 'AUTH_MFA_PHONE_OTP_LENGTH', 'int'],
  ['auth.mfa.phone.template', 'AUTH_MFA_PHONE_TEMPLATE', 'string'],
  ['auth.mfa.phone.max_frequency', 'AUTH_MFA_PHONE_MAX_FREQUENCY', 'duration'],
  ['auth.mfa.max_enrolled_factors', 'AUTH_MFA_MAX_ENROLLED_FACTORS', 'int'],
  ['auth.mfa.totp.enroll_enabled', 'AUTH_MFA_TOTP_ENROLL_ENABLED', 'bool'],
  ['auth.mfa.totp.verify_enabled', 'AUTH_MFA_TOTP_VERIFY_ENABLED', 'bool'],
  ['auth.hook.custom_access_token.enabled', 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_ENABLED', 'bool'],
  ['auth.hook.custom_access_token.uri', 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_URI', 'string'],
  ['auth.hook.custom_access_token.secrets', 'AUTH_HOOK_CUSTOM_ACCESS_TOKEN_SECRETS', 'string'],
  ['auth.hook.send_email.enabled', 'AUTH_HOOK_SEND_EMAIL_ENABLED', 'bool'],
  ['auth.hook.send_email.uri', 'AUTH_HOOK_SEND_EMAIL_URI', 'string'],
  ['auth.hook.send_email.secrets', 'AUTH_HOOK_SEND_EMAIL_SECRETS', 'string'],
  ['auth.hook.send_sms.enabled', 'AUTH_HOOK_SEND_SMS_ENABLED', 'bool'],
  ['auth.hook.send_sms.uri', 'AUTH_HOOK_SEND_SMS_URI', 'string'],
  ['auth.hook.send_sms.secrets', 'AUTH_HOOK_SEND_SMS_SECRETS', 'string'],
  ['auth.hook.mfa_verification_attempt.enabled', 'AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_ENABLED', 'bool'],
  ['auth.hook.mfa_verification_attempt.uri', 'AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_URI', 'string'],
  ['auth.hook.mfa_verification_attempt.secrets', 'AUTH_HOOK_MFA_VERIFICATION_ATTEMPT_SECRETS', 'string'],
  ['auth.hook.password_verification_attempt.enabled', 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_ENABLED', 'bool'],
  ['auth.hook.password_verification_attempt.uri', 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_URI', 'string'],
  ['auth.hook.password_verification_attempt.secrets', 'AUTH_HOOK_PASSWORD_VERIFICATION_ATTEMPT_SECRETS', 'string'],
  ['auth.mfa.web_authn.enroll_enabled', 'AUTH_MFA_WEB_AUTHN_ENROLL_ENABLED', 'bool'],
  ['auth.mfa.web_authn.verify_enabled', 'AUTH_MFA_WEB_AUTHN_VERIFY_ENABLED', 'bool'],
  ['auth.webauthn.rp_display_name', 'AUTH_WEBAUTHN_RP_DISPLAY_NAME', 'string'],
  ['auth.webauthn.rp_id', 'AUTH_WEBAUTHN_RP_ID', 'string'],
  ['auth.webauthn.rp_origins', 'AUTH_WEBAUTHN_RP_ORIGINS', 'list'],
  ['auth.passkey.enabled', 'AUTH_PASSKEY_ENABLED', 'bool'],
  ['auth.email.secure_password_change', 'AUTH_SECURE_PASSWORD_CHANGE', 'bool'],
  ['auth.oauth_server.enabled', 'AUTH_OAUTH_SERVER_ENABLED', 'bool'],
  ['auth.oauth_server.allow_dynamic_registration', 'AUTH_OAUTH_SERVER_ALLOW_DYNAMIC_REGISTRATION', 'bool'],
  ['auth.oauth_server.authorization_url_path', 'AUTH_OAUTH_SERVER_AUTHORIZATION_URL_PATH', 'string'],
  ['storage.file_size_limit', 'STORAGE_FILE_SIZE_LIMIT', 'size'],
];

/** [auth.sms.<name>] tables in the order the CLI picks the first enabled one (pkg/config, auth.go). */
const SMS_PROVIDERS = ['twilio', 'twilio_verify', 'messagebird', 'textlocal', 'vonage'] as const;

/** A provider's own keys, read only when its table is the enabled one (a disabled table's env() may name nothing). */
const SMS_PROVIDER_KEYS: ReadonlyArray<readonly [key: string, env: string]> = [
  ['auth.sms.twilio.account_sid', 'AUTH_SMS_TWILIO_ACCOUNT_SID'],
  ['auth.sms.twilio.message_service_sid', 'AUTH_SMS_TWILIO_MESSAGE_SERVICE_SID'],
  ['auth.sms.twilio.auth_token', 'AUTH_SMS_TWILIO_AUTH_TOKEN'],
  ['auth.sms.twilio.content_sid', 'AUTH_SMS_TWILIO_CONTENT_SID'],
  ['auth.sms.twilio_verify.account_sid', 'AUTH_SMS_TWILIO_VERIFY_ACCOUNT_SID'],
  ['auth.sms.twilio_verify.message_service_sid', 'AUTH_SMS_TWILIO_VERIFY_MESSAGE_SERVICE_SID'],
  ['auth.sms.twilio_verify.auth_token', 'AUTH_SMS_TWILIO_VERIFY_AUTH_TOKEN'],
  ['auth.sms.messagebird.originator', 'AUTH_SMS_MESSAGEBIRD_ORIGINATOR'],
  ['auth.sms.messagebird.access_key', 'AUTH_SMS_MESSAGEBIRD_ACCESS_KEY'],
  ['auth.sms.textlocal.sender', 'AUTH_SMS_TEXTLOCAL_SENDER'],
  ['auth.sms.textlocal.api_key', 'AUTH_SMS_TEXTLOCAL_API_KEY'],
  ['auth.sms.vonage.from', 'AUTH_SMS_VONAGE_FROM'],
  ['auth.sms.vonage.api_key', 'AUTH_SMS_VONAGE_API_KEY'],
  ['auth.sms.vonage.api_secret', 'AUTH_SMS_VONAGE_API_SECRET'],
];

/** Keys read by the special cases below (sign-up switches, SMTP, the seed). */
const SPECIAL = [
  'auth.enable_signup',
  'auth.email.enable_signup',
  'auth.rate_limit.email_sent',
  'auth.email.smtp.enabled',
  'auth.email.smtp.host',
  'auth.email.smtp.port',
  'auth.email.smtp.user',
  'auth.email.smtp.pass',
  'auth.email.smtp.admin_email',
  'auth.email.smtp.sender_name',
  'db.seed.enabled',
  'db.seed.sql_paths',
  ...SMS_PROVIDERS.map((p) => `auth.sms.${p}.enabled`),
  ...SMS_PROVIDER_KEYS.map(([key]) => key),
];

/** Every key Trellis applies (docs/configuration.md lists each with its setting). */
export const APPLIED_KEYS: ReadonlySet<string> = new Set([...DIRECT.map(([key]) => key), ...SPECIAL]);

class Problem extends Error {
  constructor(
    readonly key: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

export function parseSupabaseToml(text: string, env: TomlEnv): TomlResult {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // smol-toml's message: "Invalid TOML document: <what>\n\n<code excerpt>"; the excerpt is noise on one line.
    const what = (err.message.split('\n')[0] ?? '').replace(/^Invalid TOML document: /, '');
    return { ok: false, problem: { line: err.line, column: err.column, key: undefined, message: what } };
  }
  try {
    return { ok: true, value: mapDocument(doc, env, text) };
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    const line = err.key === undefined ? undefined : lineOfKey(text, err.key);
    return { ok: false, problem: { line, key: err.key, message: err.message } };
  }
}

function mapDocument(doc: Record<string, unknown>, env: TomlEnv, text: string): SupabaseToml {
  const settings: Record<string, TomlSetting> = {};
  const set = (envName: string, key: string, raw: string) => {
    settings[envName] = { raw, key, line: lineOfKey(text, key) };
  };
  // `path` apart from `key` for names that hold a dot themselves ([storage.buckets."img.v2"]).
  const value = (key: string, path: readonly string[] = key.split('.')): unknown =>
    substituted(lookup(doc, path), key, env);
  const typed = (key: string, kind: TomlKind, path?: readonly string[]): string | undefined => {
    const found = value(key, path);
    if (found === undefined) return undefined;
    // The CLI decrypts "encrypted:…" values (dotenvx) with a key of its own; env(NAME) is the portable form.
    if (typeof found === 'string' && found.startsWith('encrypted:'))
      throw new Problem(key, 'encrypted values are not supported; write "env(NAME)" and set NAME');
    const result = coerce(kind, found);
    if (!result.ok) throw new Problem(key, result.problem);
    return result.raw;
  };

  for (const [key, envName, kind] of DIRECT) {
    const raw = typed(key, kind);
    // An empty external URL is the template's way of saying "derive it" (the CLI does the same).
    if (raw !== undefined && !(key === 'api.external_url' && raw === '')) set(envName, key, raw);
  }

  // Two switches refuse sign-ups: [auth] enable_signup, and [auth.email] enable_signup (GoTrue's
  // email provider; it is Trellis's only one, so turning it off refuses sign-ups too).
  const signup = typed('auth.enable_signup', 'bool');
  const emailSignup = typed('auth.email.enable_signup', 'bool');
  if (signup !== undefined || emailSignup !== undefined) {
    const off =
      signup === 'false' ? 'auth.enable_signup' : emailSignup === 'false' ? 'auth.email.enable_signup' : undefined;
    set(
      'AUTH_DISABLE_SIGNUP',
      off ?? (signup !== undefined ? 'auth.enable_signup' : 'auth.email.enable_signup'),
      String(off !== undefined),
    );
  }

  const smtp = lookup(doc, ['auth', 'email', 'smtp']) === undefined ? undefined : smtpSettings(typed);
  if (smtp) {
    set('SMTP_URL', 'auth.email.smtp.host', smtp.url);
    if (smtp.from !== undefined) set('SMTP_FROM', 'auth.email.smtp.admin_email', smtp.from);
    // The CLI passes [auth.rate_limit] email_sent on only with a real mail server: without one,
    // mails go to its Inbucket and are not limited (Trellis keeps AUTH_RATE_LIMIT_EMAIL_SENT's default).
    const emailSent = typed('auth.rate_limit.email_sent', 'int');
    if (emailSent !== undefined) set('AUTH_RATE_LIMIT_EMAIL_SENT', 'auth.rate_limit.email_sent', emailSent);
  }

  const sms = smsSettings(doc, typed);
  for (const [envName, [key, raw]] of Object.entries(sms.settings)) set(envName, key, raw);

  const seedEnabled = typed('db.seed.enabled', 'bool');
  const seedPaths = value('db.seed.sql_paths');
  if (seedPaths !== undefined && !(Array.isArray(seedPaths) && seedPaths.every((p) => typeof p === 'string')))
    throw new Problem('db.seed.sql_paths', 'must be an array of file paths or globs (relative to supabase/)');
  const seed =
    seedEnabled === undefined && seedPaths === undefined
      ? undefined
      : { enabled: seedEnabled !== 'false', paths: seedPaths ?? ['./seed.sql'] };

  // [[mail.providers]]: MAIL_PROVIDERS's JSON, with env(NAME) in each value replaced (api_key = "env(RESEND_KEY)").
  const mailProviders = lookup(doc, ['mail', 'providers']);
  if (mailProviders !== undefined) {
    if (!Array.isArray(mailProviders))
      throw new Problem('mail.providers', 'must be an array of tables ([[mail.providers]])');
    const entries = mailProviders.map((entry: unknown) =>
      entry !== null && typeof entry === 'object' && !Array.isArray(entry)
        ? Object.fromEntries(
            Object.entries(entry).map(([k, v]) => [
              k,
              substituted(typeof v === 'bigint' ? Number(v) : v, 'mail.providers', env),
            ]),
          )
        : entry,
    );
    set('MAIL_PROVIDERS', 'mail.providers', JSON.stringify(entries));
  }
  const cacheTables = cacheTablesSetting(lookup(doc, ['api', 'cache', 'tables']));
  if (cacheTables) set('REST_CACHE_TABLES', 'api.cache.tables', cacheTables.raw);
  const stores = configStores(doc, typed);
  const buckets = configBuckets(doc, typed);
  for (const b of buckets)
    if (b.store !== undefined && b.store !== DEFAULT_STORE && !stores.some((st) => st.name === b.store))
      throw new Problem(`storage.buckets.${b.name}.store`, `no store "${b.store}" ([storage.stores.${b.store}])`);
  const functions = configFunctions(doc, typed);
  const external = externalKeys(doc);
  for (const [name, key] of external) {
    const dotted = `auth.external.${name}.${key}`;
    const kind = key === 'enabled' || key === 'skip_nonce_check' || key === 'email_optional' ? 'bool' : 'string';
    const raw = typed(dotted, kind, ['auth', 'external', name, key]);
    if (raw !== undefined) set(providerEnvName(name, key), dotted, raw);
  }
  const applied = new Set([
    ...APPLIED_KEYS,
    ...external.map(([name, key]) => `auth.external.${name}.${key}`),
    ...buckets.flatMap((b) => BUCKET_KEYS.map((k) => `storage.buckets.${b.name}.${k}`)),
    ...stores.flatMap((st) => STORE_KEYS.map((k) => `storage.stores.${st.name}.${k}`)),
    ...functions.flatMap((f) => FUNCTION_KEYS.map((k) => `functions.${f.name}.${k}`)),
    ...sms.testNumbers.map((n) => `auth.sms.test_otp.${n}`),
    ...(cacheTables?.names ?? []).map((n) => `api.cache.tables.${n}`),
    'mail.providers',
  ]);
  return { settings, seed, buckets, stores, functions, unapplied: unappliedKeys(doc, applied) };
}

/**
 * [auth.external.<name>] keys that become AUTH_EXTERNAL_<NAME>_<KEY> (src/config/external.ts). A
 * disabled table's values are not read: the CLI's template has `secret = "env(…)"` under disabled
 * providers, and an unset variable there must not stop the start.
 */
function externalKeys(doc: Record<string, unknown>): [string, (typeof PROVIDER_KEYS)[number]][] {
  const table = lookup(doc, ['auth', 'external']);
  if (table === null || typeof table !== 'object' || Array.isArray(table)) return [];
  const out: [string, (typeof PROVIDER_KEYS)[number]][] = [];
  for (const [name, inner] of Object.entries(table as Record<string, unknown>)) {
    if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) continue;
    const values = inner as Record<string, unknown>;
    const keys = values.enabled === true ? PROVIDER_KEYS : (['enabled'] as const);
    for (const key of keys) if (key in values) out.push([name, key]);
  }
  return out;
}

const BUCKET_KEYS = ['public', 'file_size_limit', 'allowed_mime_types', 'store'];
const STORE_KEYS = [
  'kind',
  'path',
  'endpoint',
  'region',
  'bucket',
  'access_key_id',
  'secret_access_key',
  'force_path_style',
];
/** The store STORAGE_BACKEND names (today's single store): a bucket that names no store is there. */
export const DEFAULT_STORE = 'default';
const STORE_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

function configStores(
  doc: Record<string, unknown>,
  typed: (key: string, kind: TomlKind, path?: readonly string[]) => string | undefined,
): ConfigStore[] {
  const table = lookup(doc, ['storage', 'stores']);
  if (table === undefined) return [];
  if (table === null || typeof table !== 'object' || Array.isArray(table))
    throw new Problem('storage.stores', 'must be a table of stores ([storage.stores.NAME])');
  return Object.keys(table).map((name): ConfigStore => {
    const key = (k: string) => `storage.stores.${name}.${k}`;
    const get = (k: string, kind: TomlKind = 'string') => typed(key(k), kind, ['storage', 'stores', name, k]);
    if (!STORE_NAME.test(name) || name === DEFAULT_STORE)
      throw new Problem(
        key('kind'),
        `"${name}" is not a store name (lower-case letters, digits, - and _; "${DEFAULT_STORE}" is STORAGE_BACKEND's)`,
      );
    const kind = get('kind');
    if (kind === 'local') {
      const path = get('path');
      if (!path) throw new Problem(key('path'), 'a local store needs a path (a folder)');
      return { name, kind, path };
    }
    if (kind === 's3') {
      const bucket = get('bucket');
      if (!bucket) throw new Problem(key('bucket'), 'an s3 store needs the bucket that holds its objects');
      const endpoint = get('endpoint');
      if (endpoint !== undefined && !/^https?:\/\/[^\s]+$/.test(endpoint))
        throw new Problem(key('endpoint'), 'must be an http(s) URL');
      return {
        name,
        kind,
        endpoint: endpoint || undefined,
        region: get('region') || 'us-east-1',
        bucket,
        accessKeyId: get('access_key_id') || undefined,
        secretAccessKey: get('secret_access_key') || undefined,
        forcePathStyle: get('force_path_style', 'bool') === 'true',
      };
    }
    throw new Problem(key('kind'), 'must be "local" or "s3"');
  });
}
// The CLI's ValidateBucketName: word characters and the few punctuation marks storage accepts.
const BUCKET_NAME = /^[\w!\-.*'() &$@=;:+,?]+$/;

function configBuckets(
  doc: Record<string, unknown>,
  typed: (key: string, kind: TomlKind, path?: readonly string[]) => string | undefined,
): ConfigBucket[] {
  const table = lookup(doc, ['storage', 'buckets']);
  if (table === undefined) return [];
  if (table === null || typeof table !== 'object' || Array.isArray(table))
    throw new Problem('storage.buckets', 'must be a table of buckets ([storage.buckets.NAME])');
  return Object.keys(table).map((name) => {
    const key = (k: string) => `storage.buckets.${name}.${k}`;
    if (!BUCKET_NAME.test(name)) throw new Problem(key('public'), `"${name}" is not a valid bucket name`);
    const at = (k: string) => ['storage', 'buckets', name, k];
    const isPublic = typed(key('public'), 'bool', at('public'));
    const limit = typed(key('file_size_limit'), 'size', at('file_size_limit'));
    const types = typed(key('allowed_mime_types'), 'list', at('allowed_mime_types'));
    const store = typed(key('store'), 'string', at('store'));
    return {
      name,
      public: isPublic === undefined ? undefined : isPublic === 'true',
      // 0 is the CLI's "unset" (it sends no limit).
      fileSizeLimit: limit === undefined || limit === '0' ? undefined : Number(limit),
      allowedMimeTypes: types === undefined || types === '' ? undefined : types.split(','),
      store: store || undefined,
    };
  });
}

const FUNCTION_KEYS = ['verify_jwt', 'enabled'];

function configFunctions(
  doc: Record<string, unknown>,
  typed: (key: string, kind: TomlKind, path?: readonly string[]) => string | undefined,
): ConfigFunction[] {
  const table = lookup(doc, ['functions']);
  if (table === undefined) return [];
  if (table === null || typeof table !== 'object' || Array.isArray(table))
    throw new Problem('functions', 'must be a table of functions ([functions.NAME])');
  return Object.keys(table).map((name) => {
    const at = (k: string) => ['functions', name, k];
    const verify = typed(`functions.${name}.verify_jwt`, 'bool', at('verify_jwt'));
    const enabled = typed(`functions.${name}.enabled`, 'bool', at('enabled'));
    return { name, verifyJwt: verify !== 'false', enabled: enabled !== 'false' };
  });
}

/**
 * [auth.sms]: the provider is the first [auth.sms.<name>] table with enabled = true (as the CLI
 * decides), and [auth.sms.test_otp] (number = "code") becomes AUTH_SMS_TEST_OTP's "number=code,…".
 */
function smsSettings(
  doc: Record<string, unknown>,
  typed: (key: string, kind: TomlKind, path?: readonly string[]) => string | undefined,
): { settings: Record<string, [key: string, raw: string]>; testNumbers: string[] } {
  const settings: Record<string, [string, string]> = {};
  const enabled = SMS_PROVIDERS.find((p) => typed(`auth.sms.${p}.enabled`, 'bool') === 'true');
  if (enabled) {
    settings.AUTH_SMS_PROVIDER = [`auth.sms.${enabled}.enabled`, enabled];
    for (const [key, envName] of SMS_PROVIDER_KEYS) {
      if (!key.startsWith(`auth.sms.${enabled}.`)) continue;
      const raw = typed(key, 'string');
      if (raw !== undefined) settings[envName] = [key, raw];
    }
  }
  const table = lookup(doc, ['auth', 'sms', 'test_otp']);
  if (table === undefined) return { settings, testNumbers: [] };
  if (table === null || typeof table !== 'object' || Array.isArray(table))
    throw new Problem('auth.sms.test_otp', 'must be a table of phone number = "code"');
  const numbers = Object.keys(table);
  const pairs = numbers.map((number) => {
    const key = `auth.sms.test_otp.${number}`;
    const code = typed(key, 'string', ['auth', 'sms', 'test_otp', number]) ?? '';
    if (!/^\+?[0-9 ]{2,20}$/.test(number)) throw new Problem(key, `"${number}" is not a phone number`);
    if (!/^[0-9]{1,10}$/.test(code)) throw new Problem(key, 'must be a code of digits, e.g. "123456"');
    return `${number}=${code}`;
  });
  if (pairs.length > 0) settings.AUTH_SMS_TEST_OTP = ['auth.sms.test_otp', pairs.join(',')];
  return { settings, testNumbers: numbers };
}

function smtpSettings(
  typed: (key: string, kind: TomlKind) => string | undefined,
): { url: string; from: string | undefined } | undefined {
  // As the CLI: a [auth.email.smtp] table is enabled unless it says otherwise.
  if (typed('auth.email.smtp.enabled', 'bool') === 'false') return undefined;
  const host = typed('auth.email.smtp.host', 'string');
  if (!host) throw new Problem('auth.email.smtp.host', 'must be set when [auth.email.smtp] is enabled');
  const port = typed('auth.email.smtp.port', 'int') ?? '587';
  const user = typed('auth.email.smtp.user', 'string') ?? '';
  const pass = typed('auth.email.smtp.pass', 'string') ?? '';
  const auth = user === '' ? '' : `${encodeURIComponent(user)}:${encodeURIComponent(pass)}@`;
  // Port 465 speaks TLS from the first byte (GoTrue's mailer decides the same way); others STARTTLS.
  const url = `${port === '465' ? 'smtps' : 'smtp'}://${auth}${host.includes(':') ? `[${host}]` : host}:${port}`;
  const email = typed('auth.email.smtp.admin_email', 'string');
  const name = typed('auth.email.smtp.sender_name', 'string');
  const from = email ? (name ? `${name.replace(/["\\]/g, '')} <${email}>` : email) : undefined;
  return { url, from };
}

function lookup(doc: Record<string, unknown>, path: readonly string[]): unknown {
  let at: unknown = doc;
  for (const part of path) {
    if (at === null || typeof at !== 'object' || Array.isArray(at)) return undefined;
    at = (at as Record<string, unknown>)[part];
  }
  return at;
}

const ENV_REFERENCE = /^env\((.*)\)$/;

/**
 * `env(NAME)` as the CLI reads it: a whole string value (or an array entry) names a variable whose
 * value replaces it. The CLI keeps the text when the variable is unset and warns; for a key Trellis
 * applies, that text would only fail later as a bad URL or number, so it is an error here.
 */
function substituted(value: unknown, key: string, env: TomlEnv): unknown {
  const one = (v: unknown): unknown => {
    if (typeof v !== 'string') return v;
    const name = ENV_REFERENCE.exec(v)?.[1];
    if (name === undefined) return v;
    const found = env[name];
    if (found === undefined || found === '')
      throw new Problem(key, `env(${name}): the environment variable ${name} is not set`);
    return found;
  };
  return Array.isArray(value) ? value.map(one) : one(value);
}

/**
 * The line of a key, for messages: the `name =` line under its `[table]` header (or a dotted key
 * under a parent table). Undefined when written in a form this does not follow (an inline table).
 */
export function lineOfKey(text: string, key: string): number | undefined {
  let table = '';
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    const header = /^\s*\[\s*([^[\]]+?)\s*\]\s*(#.*)?$/.exec(line);
    if (header) {
      table = (header[1] ?? '').replace(/\s*\.\s*/g, '.').replace(/"/g, '');
      continue;
    }
    const assignment = /^\s*([A-Za-z0-9_\-."' ]+?)\s*=/.exec(line);
    if (!assignment) continue;
    const name = (assignment[1] ?? '').replace(/\s*\.\s*/g, '.').replace(/["']/g, '');
    if ((table === '' ? name : `${table}.${name}`) === key) return i + 1;
  }
  return undefined;
}

/** `[api.cache] tables = { "public.rooms" = "30s" }` as REST_CACHE_TABLES's text (the setting checks each pair). */
function cacheTablesSetting(value: unknown): { raw: string; names: string[] } | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Problem('api.cache.tables', 'must be a table like { "public.rooms" = "30s" }');
  const entries = Object.entries(value as Record<string, unknown>);
  for (const [name, ttl] of entries)
    if (typeof ttl !== 'string' && typeof ttl !== 'number')
      throw new Problem(`api.cache.tables`, `${name}: must be a duration like "30s"`);
  return { raw: entries.map(([name, ttl]) => `${name}=${String(ttl)}`).join(','), names: entries.map(([n]) => n) };
}
