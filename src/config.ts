/**
 * The one place that reads the environment and supabase/config.toml. Flags, environment variables
 * and the file go through one table of settings, each parsed by zod, into a frozen Config; a flag
 * wins over its variable, a variable over the file. docs/configuration.md documents every row.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import type { z } from 'zod';
import type { MailProviderConfig } from './config/mail-providers.js';
import type { RateSpec } from './config/rate-limit.js';
import { settings } from './config/settings.js';
import { parseCacheTables } from './config/cache-duration.js';
import {
  FIXED_PROVIDERS,
  providerEnvName,
  providerNamesInEnv,
  readProvider,
  type ExternalProviderConfig,
} from './config/external.js';
import {
  parseSupabaseToml,
  type ConfigBucket,
  type ConfigFunction,
  type ConfigStore,
  DEFAULT_STORE,
  type SupabaseToml,
  type TomlEnv,
  type TomlSetting,
} from './config/toml.js';
import { FatalError, errorMessage } from './errors.js';
import { HOOK_NAMES, hookTarget, type HookName, type HookTarget } from './config/hooks.js';
import type { SmsSettings } from './platform/sms/index.js';

export { settings };
export type { ExternalProviderConfig };

type Settings = typeof settings;
type SettingValue<K extends keyof Settings> = z.output<Settings[K]['schema']>;

export interface Config {
  /** Absolute project folder. */
  readonly dir: string;
  /** `dir/.trellis`: secrets, the embedded database, runtime state. */
  readonly dataDir: string;
  /** `dir/supabase/migrations`. */
  readonly migrationsDir: string;
  /**
   * The seed, applied on a fresh database and by `trellis db reset`: config.toml's [db.seed]
   * sql_paths (globs relative to `dir`, which is `dir/supabase`), or `./seed.sql` without one.
   */
  readonly seed: { readonly enabled: boolean; readonly dir: string; readonly paths: readonly string[] };
  /** supabase/config.toml when the project has one, with the keys set in it that Trellis does not apply. */
  readonly configFile: { readonly path: string; readonly unapplied: readonly string[] } | undefined;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  /** This instance's own address (loopback for a wildcard host): where it calls itself. */
  readonly localUrl: string;
  readonly databaseUrl: string | undefined;
  /** DATABASE_READ_URL: streaming standbys of DATABASE_URL that serve read-only requests. */
  readonly readReplicas: {
    readonly urls: readonly string[];
    /** How long a read behind its fence waits for a replica before it goes to the primary (0: never waits). */
    readonly fenceWaitMs: number;
    /** A replica further behind the primary than this is skipped. */
    readonly maxLagMs: number;
    readonly probeIntervalMs: number;
  };
  readonly jwtSecret: string | undefined;
  readonly pool: {
    readonly max: number;
    readonly idleTimeoutMs: number;
    readonly connectTimeoutMs: number;
    readonly statementTimeoutMs: number;
    /** The client-side deadline of each request statement (0: none). */
    readonly queryTimeoutMs: number;
    readonly preparedStatements: boolean;
  };
  /** /metrics without the service_role key. */
  readonly metricsPublic: boolean;
  readonly redisUrl: string | undefined;
  /** Server processes for `trellis start` (1: no cluster). */
  readonly workers: number;
  readonly bus: SettingValue<'bus'>;
  readonly trustProxy: boolean;
  /** Data API rate limits per user (or client address) and route family; undefined: off. */
  readonly apiRateLimits: {
    readonly rest: RateSpec | undefined;
    readonly storage: RateSpec | undefined;
    readonly functions: RateSpec | undefined;
    readonly realtime: RateSpec | undefined;
  };
  readonly auth: {
    readonly jwtExpiry: number;
    /** AUTH_JWT_KEYS: the signing keys' JSON text, as GoTrue's GOTRUE_JWT_KEYS. */
    readonly jwtKeys: string | undefined;
    /** The signing keys' file (AUTH_SIGNING_KEYS_PATH / [auth] signing_keys_path), resolved. */
    readonly signingKeysPath: string | undefined;
    /** Seconds a session lookup is cached; 0: access tokens are not checked against auth.sessions. */
    readonly sessionCheckSeconds: number;
    readonly refreshReuseInterval: number;
    readonly siteUrl: string;
    readonly redirectUrls: readonly string[];
    readonly emailConfirmation: boolean;
    readonly disableSignup: boolean;
    readonly anonymousSignIns: boolean;
    readonly manualLinking: boolean;
    /** [auth.external.<name>] / AUTH_EXTERNAL_<NAME>_<KEY>, by the id clients send (`github`, `custom:acme`). */
    readonly external: Readonly<Record<string, ExternalProviderConfig>>;
    readonly passwordMinLength: number;
    readonly otpExpiry: number;
    readonly mfa: { readonly totpEnroll: boolean; readonly totpVerify: boolean; readonly maxEnrolledFactors: number };
    /** Auth hooks ([auth.hook.*]): the target of each one turned on. */
    readonly hooks: {
      readonly targets: Readonly<Partial<Record<HookName, HookTarget>>>;
      readonly httpTimeoutMs: number;
      readonly pgTimeoutMs: number;
    };
    readonly webauthn: {
      readonly mfaEnroll: boolean;
      readonly mfaVerify: boolean;
      readonly rpDisplayName: string;
      readonly rpId: string;
      readonly rpOrigins: readonly string[];
      readonly passkeys: boolean;
    };
    /** A password change needs a reauthentication nonce (GoTrue's SecurePasswordChange). */
    readonly securePasswordChange: boolean;
    readonly oauthServer: {
      readonly enabled: boolean;
      readonly dynamicRegistration: boolean;
      readonly authorizationPath: string;
    };
    readonly sms: SmsConfig;
    /** Templates that override the built-in mails: `<templatesDir>/<kind>.html`. */
    readonly templatesDir: string;
    readonly rateLimits: {
      readonly signIn: number;
      readonly tokenPassword: number;
      readonly tokenRefresh: number;
      readonly verify: number;
      readonly emailSent: number;
      readonly anonymous: number;
      /** Seconds between two mails to one address. */
      readonly emailMaxFrequency: number;
      readonly emailPerAddress: number;
      readonly emailPerIp: number;
      /** Percent of `emailSent` only recovery and sign-in mails of confirmed users may use. */
      readonly emailReservePercent: number;
      readonly passwordFailures: number;
      readonly passwordFailureWindowS: number;
      readonly otpMaxAttempts: number;
    };
  };
  readonly mail: {
    readonly smtpUrl: string | undefined;
    readonly from: string;
    /** MAIL_PROVIDERS / [[mail.providers]], in priority order; empty: SMTP_URL alone, or the outbox. */
    readonly providers: readonly MailProviderConfig[];
    readonly perAddressPerDay: number;
    readonly perIpPerHour: number;
    readonly maxDataBytes: number;
    /** Days trellis.mail_log keeps a row; 0: forever. */
    readonly logRetentionDays: number;
  };
  readonly rest: {
    readonly schemas: readonly string[];
    /** Schemas after the request's own on its search_path (PostgREST's db-extra-search-path). */
    readonly extraSearchPath: readonly string[];
    readonly maxRows: number;
    readonly maxBodyBytes: number;
    readonly maxResponseBytes: number;
    /** PostgREST's db-aggregates-enabled: off, an aggregate in select= answers 400 PGRST123 (overridden by `pgrst.db_aggregates_enabled`). */
    readonly aggregatesEnabled: boolean;
    /** PostgREST's db-plan-enabled: the EXPLAIN media type. */
    readonly planEnabled: boolean;
    /** PostgREST's db-tx-end. */
    readonly txEnd: 'commit' | 'commit-allow-override' | 'rollback' | 'rollback-allow-override';
    /** The response cache (src/rest/response-cache): relation -> TTL from REST_CACHE_TABLES, over `@cache` comments. */
    readonly cache: {
      readonly enabled: boolean;
      readonly tables: ReadonlyMap<string, number>;
      readonly maxEntries: number;
      readonly maxBytes: number;
      readonly maxEntryBytes: number;
    };
  };
  readonly storage: {
    readonly backend: 'local' | 's3';
    /** Where the local backend keeps objects: `dataDir/storage`. */
    readonly localDir: string;
    readonly fileSizeLimit: number;
    readonly imageMaxInputBytes: number;
    /** Resumable (TUS) uploads: how long an unfinished one lives, and how often expired ones are swept. */
    readonly resumable: { readonly expiryMs: number; readonly sweepEveryMs: number };
    /** Bytes without rows (src/platform/store/pending.ts): when a writer's entry is stale, and how often the sweep runs. */
    readonly orphans: { readonly staleMs: number; readonly sweepEveryMs: number };
    /** Test only (TRELLIS_TEST_STORAGE_COMMIT_DELAY_MS): a pause between an upload's bytes and its row. */
    readonly testCommitDelayMs: number;
    /** Test only (TRELLIS_TEST_STORAGE_MOVE_STOP_AFTER): `trellis storage move` stops after this many objects. */
    readonly testMoveStopAfter: number | undefined;
    /** config.toml's [storage.buckets.*]: made or updated on every start, as `supabase start` does. */
    readonly buckets: readonly ConfigBucket[];
    /**
     * Where bytes are kept, by store name: `default` (STORAGE_BACKEND and its STORAGE_S3_*
     * settings) and config.toml's [storage.stores.<name>]; a bucket names its store
     * (trellis.bucket_stores; docs/storage.md, "A store per bucket").
     */
    readonly stores: Readonly<Record<string, StoreSettings>>;
    readonly s3: {
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly bucket: string | undefined;
      readonly accessKeyId: string | undefined;
      readonly secretAccessKey: string | undefined;
      readonly forcePathStyle: boolean;
    };
  };
  /** Where `trellis import --storage-s3` reads a Supabase project's object files. */
  readonly importS3: {
    readonly endpoint: string | undefined;
    readonly region: string;
    readonly accessKeyId: string | undefined;
    readonly secretAccessKey: string | undefined;
  };
  /** The net.http_* sender and database webhooks (docs/webhooks.md). */
  readonly webhooks: {
    readonly sender: boolean;
    readonly concurrency: number;
    readonly pollIntervalMs: number;
    readonly responseTtlS: number;
    readonly maxResponseBytes: number;
    readonly retries: number;
    readonly retryBackoffMs: number;
    /** WEBHOOK_SECRET: `whsec_<base64>`, several separated by spaces; unset: the data folder's. */
    readonly secret: string | undefined;
  };
  readonly realtime: {
    readonly maxConnections: number;
    readonly maxChannelsPerClient: number;
    readonly maxEventsPerSecond: number;
    readonly maxTenantEventsPerSecond: number;
    readonly maxPayloadBytes: number;
    readonly maxBufferedBytes: number;
    readonly heartbeatTimeoutMs: number;
    readonly replicationTimeoutMs: number;
  };
  /** Seconds between partition maintenance runs (0: none). */
  readonly partitionMaintenanceIntervalS: number;
  /** The cron scheduler (docs/cron.md). */
  readonly cron: { readonly enabled: boolean; readonly jobTimeoutS: number; readonly retentionDays: number };
  /** The Studio dashboard (src/studio, docs/studio.md): served or not, its SQL editor's timeout, its sign-in's life. */
  readonly studio: {
    readonly enabled: boolean;
    /** A port of its own (STUDIO_PORT); undefined: under the API's port. */
    readonly port: number | undefined;
    /** Where the dashboard is, as the banner prints it. */
    readonly url: string;
    readonly sqlTimeoutMs: number;
    readonly sessionHours: number;
  };
  /** Edge functions (src/functions): supabase/functions/<name>/, their limits and config.toml's [functions.<name>]. */
  readonly functions: {
    /** `dir/supabase/functions`. */
    readonly dir: string;
    readonly cpuLimitMs: number;
    readonly wallLimitS: number;
    readonly memoryLimitMb: number;
    readonly maxConcurrency: number;
    readonly maxBodyBytes: number;
    /** Seconds an idle worker is kept (0: forever). */
    readonly idleTimeoutS: number;
    readonly watch: boolean;
    /** [functions.<name>] of config.toml, by name. */
    readonly settings: Readonly<Record<string, ConfigFunction>>;
  };
  /** Trellis's job runner (src/jobs/queue): whether this process runs it, and a job's time limit. */
  readonly jobs: { readonly enabled: boolean; readonly timeoutS: number };
  /** Web push (src/jobs/push): VAPID keys when set (else the database's pair), subject, delivery bounds. */
  readonly push: {
    readonly vapid?: { readonly publicKey: string; readonly privateKey: string };
    readonly subject: string;
    readonly timeoutMs: number;
    readonly caFile?: string;
  };
  readonly backup: {
    /** A folder (absolute) or an s3:// URL. */
    readonly target: string;
    readonly s3: {
      readonly endpoint: string | undefined;
      readonly region: string;
      readonly accessKeyId: string | undefined;
      readonly secretAccessKey: string | undefined;
      readonly forcePathStyle: boolean;
    };
    /** `dataDir/wal-archive`: where the embedded database's archiver (basic_archive) puts WAL segments. */
    readonly archiveDir: string;
    readonly archiveTimeoutS: number;
    readonly shipIntervalS: number;
    readonly schedule: string | undefined;
    readonly keep: number;
    readonly testDelayMs: number;
  };
  readonly logLevel: SettingValue<'logLevel'>;
  readonly errorReports: { readonly dsn: string | undefined; readonly environment: string };
  readonly tracing: {
    readonly endpoint: string | undefined;
    readonly serviceName: string;
    readonly protocol: 'http/protobuf' | 'http/json';
    readonly headers: Readonly<Record<string, string>>;
    readonly sampler: SettingValue<'tracingSampler'>;
    readonly samplerRatio: number;
    readonly exportDelayMs: number;
  };
  /** SIGTERM: how long /ready answers 503 while requests are still served, before the stop. */
  readonly drainGraceMs: number;
  /** SIGTERM budget for in-flight requests and the embedded database; fixed by the CLI contract. */
  readonly shutdownTimeoutMs: number;
  /**
   * Where each setting's value came from, by its environment variable: the variable's name, a
   * `--flag`, `supabase/config.toml line N (section.key)`, or `default`. Studio shows it.
   */
  readonly settingSources: Readonly<Record<string, string>>;
}

/** Phone sign-ins: GoTrue's [sms] and external.phone settings, and the provider's. */
export interface SmsConfig extends SmsSettings {
  /** GoTrue's external.phone.enabled. */
  readonly enabled: boolean;
  /** Off: a phone sign-up's number counts as confirmed (GoTrue's SMS autoconfirm). */
  readonly confirmation: boolean;
  readonly template: string;
  /** Seconds between two codes to one number (0: none). */
  readonly maxFrequency: number;
  readonly otpExpiry: number;
  readonly otpLength: number;
  /** Test numbers (digits, no `+`) and their fixed codes. */
  readonly testOtp: Readonly<Record<string, string>>;
  readonly testOtpValidUntil: Date | undefined;
  /** Messages per hour, whole server. */
  readonly sentPerHour: number;
  /** Phone second factors ([auth.mfa.phone]). */
  readonly mfa: {
    readonly enroll: boolean;
    readonly verify: boolean;
    readonly otpLength: number;
    readonly template: string;
    readonly maxFrequency: number;
  };
}

export type Flags = Readonly<Record<string, string | boolean | undefined>>;

/** Where settings come from, strongest first: flags, the environment, supabase/config.toml. */
interface Sources {
  readonly flags: Flags;
  readonly env: NodeJS.ProcessEnv;
  /** The file's values by the environment variable each stands in for, and how to name the file. */
  readonly file: { readonly label: string; readonly settings: Readonly<Record<string, TomlSetting>> };
  /** Where each setting read was found, by its environment variable (Config.settingSources). */
  readonly seen?: Map<string, string>;
}

function read<K extends keyof Settings>(key: K, { flags, env, file, seen }: Sources): SettingValue<K> {
  const setting: Settings[K] = settings[key];
  const flagName = 'flag' in setting ? setting.flag : undefined;
  const fromFlag = flagName !== undefined ? flags[flagName] : undefined;
  const fromEnv = env[setting.env];
  const fromFile = file.settings[setting.env];
  const [raw, source] =
    typeof fromFlag === 'string' || fromFlag === true
      ? [String(fromFlag), `--${flagName}`]
      : fromEnv !== undefined && fromEnv !== ''
        ? [fromEnv, setting.env]
        : fromFile !== undefined
          ? [fromFile.raw, fileSource(file.label, fromFile.line, fromFile.key)]
          : ['fallback' in setting ? setting.fallback : undefined, setting.env];
  const given =
    typeof fromFlag === 'string' || fromFlag === true || (fromEnv !== undefined && fromEnv !== '') || fromFile;
  seen?.set(setting.env, given ? source : 'default');
  const parsed = setting.schema.safeParse(raw);
  if (!parsed.success) {
    const shown = source.startsWith('--') || !/SECRET|URL/.test(setting.env) ? ` (got "${raw}")` : '';
    throw new FatalError(`${parsed.error.issues[0]?.message ?? 'is invalid'}${shown}`, source);
  }
  return parsed.data as SettingValue<K>;
}

/** How a message names a place in config.toml: "supabase/config.toml line 12 (api.max_rows)". */
function fileSource(label: string, line: number | undefined, key: string | undefined, column?: number): string {
  const at = line === undefined ? '' : column === undefined ? ` line ${line}` : ` line ${line}, column ${column}`;
  return key === undefined ? `${label}${at}` : `${label}${at} (${key})`;
}

/** The Supabase CLI resolves config.toml's `signing_keys_path` from supabase/; a variable is the shell's, from the working folder. */
function signingKeysPath(src: Sources, supabaseDir: string): string | undefined {
  const value = read('signingKeysPath', src);
  if (value === undefined) return undefined;
  const fromToml = !src.env.AUTH_SIGNING_KEYS_PATH && src.file.settings.AUTH_SIGNING_KEYS_PATH !== undefined;
  return path.resolve(fromToml ? supabaseDir : process.cwd(), value);
}

const NO_FILE: Sources['file'] = { label: 'supabase/config.toml', settings: {} };

/**
 * What `env(NAME)` in config.toml may name: the environment, then the dotenv files the Supabase CLI
 * loads from supabase/ and the project folder (`.env.<SUPABASE_ENV>.local`, `.env.local`,
 * `.env.<SUPABASE_ENV>`, `.env`; the first that sets a name wins, the environment over all). They
 * feed env() only: Trellis's own settings still come from the environment alone.
 */
function referencedEnv(dirs: readonly string[], env: NodeJS.ProcessEnv): TomlEnv {
  const stage = env.SUPABASE_ENV || 'development';
  const names = [`.env.${stage}.local`, ...(stage === 'test' ? [] : ['.env.local']), `.env.${stage}`, '.env'];
  const found: Record<string, string | undefined> = {};
  for (const dir of new Set(dirs))
    for (const name of names) {
      const file = path.join(dir, name);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') continue;
        throw new FatalError(`cannot read: ${errorMessage(err)}`, file);
      }
      for (const [key, value] of Object.entries(parseEnv(text))) found[key] ??= value;
    }
  for (const [key, value] of Object.entries(env)) if (value !== undefined && value !== '') found[key] = value;
  return found;
}

/**
 * The OAuth providers: every fixed one, plus each generic OIDC name the environment or the file
 * mentions. A variable wins over the file, key by key, as for every other setting.
 */
function externalProviders({ env, file, seen }: Sources): Readonly<Record<string, ExternalProviderConfig>> {
  const names = new Set<string>([
    ...FIXED_PROVIDERS,
    ...providerNamesInEnv(Object.keys(env)),
    ...providerNamesInEnv(Object.keys(file.settings)),
  ]);
  const out: Record<string, ExternalProviderConfig> = {};
  for (const name of names) {
    const provider = readProvider(
      name,
      (key) => {
        const envName = providerEnvName(name, key);
        const fromEnv = env[envName];
        const fromFile = file.settings[envName];
        const given = fromEnv !== undefined && fromEnv !== '';
        seen?.set(
          envName,
          given ? envName : fromFile ? fileSource(file.label, fromFile.line, fromFile.key) : 'default',
        );
        return given ? fromEnv : fromFile?.raw;
      },
      (key, message) => {
        const envName = providerEnvName(name, key);
        const fromFile = env[envName] ? undefined : file.settings[envName];
        throw new FatalError(message, fromFile ? fileSource(file.label, fromFile.line, fromFile.key) : envName);
      },
    );
    out[provider.id] = Object.freeze({ ...provider, clientIds: Object.freeze([...provider.clientIds]) });
  }
  return Object.freeze(out);
}

/** supabase/config.toml of the project, parsed; undefined when there is none. */
function readSupabaseToml(file: string, label: string, env: () => TomlEnv): SupabaseToml | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    // No file, or no folder to hold one (a --dir that is a file is the start's to report, by its flag).
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw new FatalError(`cannot read: ${errorMessage(err)}`, label);
  }
  const result = parseSupabaseToml(text, env());
  if (!result.ok) {
    const { message, line, key, column } = result.problem;
    throw new FatalError(message, fileSource(label, line, key, column));
  }
  return result.value;
}

export function loadConfig(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const givenDir = read('dir', { flags, env, file: NO_FILE });
  const dir = path.resolve(givenDir);
  const supabaseDir = path.join(dir, 'supabase');
  const tomlFile = path.join(supabaseDir, 'config.toml');
  const label = path.join(givenDir, 'supabase', 'config.toml');
  const toml = readSupabaseToml(tomlFile, label, () => referencedEnv([supabaseDir, dir], env));
  const seen = new Map<string, string>();
  const src: Sources = { flags, env, file: { label, settings: toml?.settings ?? {} }, seen };
  const host = read('host', src);
  const port = read('port', src);
  const redirectUrls = read('redirectUrls', src)
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  const displayHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const publicUrl = (read('publicUrl', src) ?? `http://${displayHost}:${port}`).replace(/\/+$/, '');
  const studioPort = read('studioPort', src);
  return Object.freeze({
    dir,
    dataDir: path.join(dir, '.trellis'),
    migrationsDir: path.join(dir, 'supabase', 'migrations'),
    seed: Object.freeze({
      enabled: toml?.seed?.enabled ?? true,
      dir: supabaseDir,
      paths: Object.freeze([...(toml?.seed?.paths ?? ['./seed.sql'])]),
    }),
    configFile: toml ? Object.freeze({ path: tomlFile, unapplied: Object.freeze([...toml.unapplied]) }) : undefined,
    host,
    port,
    publicUrl,
    localUrl: `http://${displayHost}:${port}`,
    databaseUrl: read('databaseUrl', src),
    readReplicas: readReplicasConfig(src),
    jwtSecret: read('jwtSecret', src),
    pool: poolConfig(src),
    metricsPublic: read('metricsPublic', src),
    redisUrl: read('redisUrl', src),
    workers: workerCount(read('workers', src), env),
    bus: read('bus', src),
    trustProxy: read('trustProxy', src),
    apiRateLimits: Object.freeze({
      rest: read('rateLimitRest', src),
      storage: read('rateLimitStorage', src),
      functions: read('rateLimitFunctions', src),
      realtime: read('rateLimitRealtime', src),
    }),
    auth: Object.freeze({
      jwtExpiry: read('jwtExpiry', src),
      jwtKeys: read('jwtKeys', src),
      signingKeysPath: signingKeysPath(src, supabaseDir),
      sessionCheckSeconds: read('sessionCheck', src),
      refreshReuseInterval: read('refreshReuseInterval', src),
      siteUrl: (read('siteUrl', src) ?? publicUrl).replace(/\/+$/, ''),
      redirectUrls: Object.freeze(redirectUrls),
      emailConfirmation: read('emailConfirmation', src),
      disableSignup: read('disableSignup', src),
      anonymousSignIns: read('anonymousSignIns', src),
      manualLinking: read('manualLinking', src),
      external: externalProviders(src),
      passwordMinLength: read('passwordMinLength', src),
      otpExpiry: read('otpExpiry', src),
      mfa: Object.freeze({
        totpEnroll: read('mfaTotpEnroll', src),
        totpVerify: read('mfaTotpVerify', src),
        maxEnrolledFactors: read('mfaMaxEnrolledFactors', src),
      }),
      hooks: hooksConfig(src),
      webauthn: webauthnConfig(src, (read('siteUrl', src) ?? publicUrl).replace(/\/+$/, '')),
      securePasswordChange: read('securePasswordChange', src),
      oauthServer: Object.freeze({
        enabled: read('oauthServerEnabled', src),
        dynamicRegistration: read('oauthServerDynamicRegistration', src),
        authorizationPath: read('oauthServerAuthorizationPath', src),
      }),
      sms: smsConfig(src),
      templatesDir: path.join(dir, 'supabase', 'templates'),
      rateLimits: Object.freeze({
        signIn: read('rateLimitSignIn', src),
        tokenPassword: read('rateLimitTokenPassword', src) ?? read('rateLimitSignIn', src),
        tokenRefresh: read('rateLimitTokenRefresh', src),
        verify: read('rateLimitVerify', src),
        emailSent: read('rateLimitEmailSent', src),
        anonymous: read('rateLimitAnonymous', src),
        emailMaxFrequency: read('emailMaxFrequency', src),
        emailPerAddress: read('rateLimitEmailPerAddress', src),
        emailPerIp: read('rateLimitEmailPerIp', src),
        emailReservePercent: read('emailReservePercent', src),
        passwordFailures: read('rateLimitPasswordFailures', src),
        passwordFailureWindowS: read('passwordFailureWindow', src),
        otpMaxAttempts: read('otpMaxAttempts', src),
      }),
    }),
    mail: Object.freeze({
      smtpUrl: read('smtpUrl', src),
      from: read('smtpFrom', src),
      providers: Object.freeze(read('mailProviders', src)),
      perAddressPerDay: read('mailPerAddressPerDay', src),
      perIpPerHour: read('mailPerIpPerHour', src),
      maxDataBytes: read('mailMaxDataBytes', src),
      logRetentionDays: read('mailLogRetentionDays', src),
    }),
    rest: Object.freeze({
      schemas: Object.freeze(
        read('restSchemas', src)
          .split(',')
          .map((s) => s.trim()),
      ),
      extraSearchPath: Object.freeze(
        read('restExtraSearchPath', src)
          .split(',')
          .map((s) => s.trim()),
      ),
      maxRows: read('restMaxRows', src),
      maxBodyBytes: read('restMaxBody', src),
      maxResponseBytes: read('restMaxResponse', src),
      aggregatesEnabled: read('restAggregates', src),
      planEnabled: read('restPlanEnabled', src),
      txEnd: read('restTxEnd', src),
      cache: Object.freeze({
        enabled: read('restCacheEnabled', src),
        tables: cacheTables(read('restCacheTables', src)),
        maxEntries: read('restCacheMaxEntries', src),
        maxBytes: read('restCacheMaxBytes', src),
        maxEntryBytes: read('restCacheMaxEntryBytes', src),
      }),
    }),
    storage: storageConfig(dir, path.join(dir, '.trellis'), src, toml?.buckets ?? [], toml?.stores ?? []),
    importS3: Object.freeze({
      endpoint: read('importS3Endpoint', src),
      region: read('importS3Region', src),
      accessKeyId: read('importS3AccessKeyId', src),
      secretAccessKey: read('importS3SecretAccessKey', src),
    }),
    webhooks: Object.freeze({
      sender: read('netSender', src),
      concurrency: read('netConcurrency', src),
      pollIntervalMs: read('netPollInterval', src),
      responseTtlS: read('netResponseTtl', src),
      maxResponseBytes: read('netMaxResponseBytes', src),
      retries: read('webhookRetries', src),
      retryBackoffMs: read('webhookRetryBackoff', src),
      secret: read('webhookSecret', src),
    }),
    realtime: Object.freeze({
      maxConnections: read('realtimeMaxConnections', src),
      maxChannelsPerClient: read('realtimeMaxChannels', src),
      maxEventsPerSecond: read('realtimeMaxEvents', src),
      maxTenantEventsPerSecond: read('realtimeMaxTenantEvents', src),
      maxPayloadBytes: read('realtimeMaxPayload', src),
      maxBufferedBytes: read('realtimeMaxBuffered', src),
      heartbeatTimeoutMs: read('realtimeHeartbeatTimeout', src),
      replicationTimeoutMs: read('realtimeReplicationTimeout', src),
    }),
    partitionMaintenanceIntervalS: read('partitionMaintenanceInterval', src),
    studio: Object.freeze({
      enabled: read('studioEnabled', src),
      port: studioPort,
      url: studioPort === undefined ? `${publicUrl}/studio` : `http://${displayHost}:${studioPort}/studio`,
      sqlTimeoutMs: read('studioSqlTimeout', src),
      sessionHours: read('studioSessionHours', src),
    }),
    cron: Object.freeze({
      enabled: read('cronEnabled', src),
      jobTimeoutS: read('cronJobTimeout', src),
      retentionDays: read('cronRunRetention', src),
    }),
    functions: Object.freeze({
      dir: path.join(supabaseDir, 'functions'),
      cpuLimitMs: read('functionsCpuLimit', src),
      wallLimitS: read('functionsWallLimit', src),
      memoryLimitMb: read('functionsMemoryLimit', src),
      maxConcurrency: read('functionsConcurrency', src),
      maxBodyBytes: read('functionsMaxBody', src),
      idleTimeoutS: read('functionsIdleTimeout', src),
      watch: read('functionsWatch', src),
      settings: Object.freeze(Object.fromEntries((toml?.functions ?? []).map((f) => [f.name, Object.freeze(f)]))),
    }),
    jobs: Object.freeze({ enabled: read('jobsEnabled', src), timeoutS: read('jobsTimeout', src) }),
    push: pushConfig(src),
    backup: backupConfig(dir, src),
    logLevel: read('logLevel', src),
    errorReports: Object.freeze({ dsn: read('sentryDsn', src), environment: read('sentryEnvironment', src) }),
    tracing: Object.freeze({
      endpoint: read('tracingEndpoint', src),
      serviceName: read('tracingServiceName', src),
      protocol: read('tracingProtocol', src),
      headers: Object.freeze(read('tracingHeaders', src)),
      sampler: read('tracingSampler', src),
      samplerRatio: read('tracingSamplerArg', src),
      exportDelayMs: read('tracingExportDelay', src),
    }),
    drainGraceMs: read('drainGrace', src) * 1000,
    shutdownTimeoutMs: 10_000,
    // Last: every read above has recorded where it found its value.
    settingSources: Object.freeze(Object.fromEntries(seen)),
  });
}

/**
 * One process unless told otherwise, or in production: in development and tests a single process
 * starts faster, logs in one stream and keeps in-memory limits exact (docs/configuration.md).
 */
function workerCount(value: SettingValue<'workers'>, env: NodeJS.ProcessEnv): number {
  const chosen = value ?? (env.NODE_ENV === 'production' ? 'auto' : 1);
  return chosen === 'auto' ? Math.min(os.availableParallelism(), 8) : chosen;
}

const HOOK_SETTINGS = {
  customAccessToken: ['hookCustomAccessTokenEnabled', 'hookCustomAccessTokenUri', 'hookCustomAccessTokenSecrets'],
  sendEmail: ['hookSendEmailEnabled', 'hookSendEmailUri', 'hookSendEmailSecrets'],
  sendSms: ['hookSendSmsEnabled', 'hookSendSmsUri', 'hookSendSmsSecrets'],
  mfaVerificationAttempt: [
    'hookMfaVerificationAttemptEnabled',
    'hookMfaVerificationAttemptUri',
    'hookMfaVerificationAttemptSecrets',
  ],
  passwordVerificationAttempt: [
    'hookPasswordVerificationAttemptEnabled',
    'hookPasswordVerificationAttemptUri',
    'hookPasswordVerificationAttemptSecrets',
  ],
} as const satisfies Record<HookName, readonly [keyof Settings, keyof Settings, keyof Settings]>;

/** A hook turned on with a target GoTrue would refuse ends the start, naming the setting. */
function hooksConfig(src: Sources): Config['auth']['hooks'] {
  const targets: Partial<Record<HookName, HookTarget>> = {};
  for (const name of HOOK_NAMES) {
    const [enabled, uri, secrets] = HOOK_SETTINGS[name];
    const target = hookTarget(read(enabled, src), read(uri, src), read(secrets, src));
    if (typeof target === 'string') {
      const setting = /secret/.test(target) ? settings[secrets] : settings[uri];
      const fromFile = src.env[setting.env] ? undefined : src.file.settings[setting.env];
      throw new FatalError(target, fromFile ? fileSource(src.file.label, fromFile.line, fromFile.key) : setting.env);
    }
    if (target) targets[name] = target;
  }
  return Object.freeze({
    targets: Object.freeze(targets),
    httpTimeoutMs: read('hookHttpTimeoutMs', src),
    pgTimeoutMs: read('hookPgTimeoutMs', src),
  });
}

/** The credentials each provider cannot send without (GoTrue's Validate of each provider's settings). */
const SMS_REQUIRED: Record<Exclude<SmsSettings['provider'], ''>, readonly (keyof Settings)[]> = {
  twilio: ['twilioAccountSid', 'twilioAuthToken', 'twilioMessageServiceSid'],
  twilio_verify: ['twilioVerifyAccountSid', 'twilioVerifyAuthToken', 'twilioVerifyMessageServiceSid'],
  messagebird: ['messagebirdAccessKey', 'messagebirdOriginator'],
  textlocal: ['textlocalApiKey', 'textlocalSender'],
  vonage: ['vonageApiKey', 'vonageApiSecret', 'vonageFrom'],
};

/** Both VAPID keys or neither: a public key without its private one cannot sign. */
function pushConfig(src: Sources): Config['push'] {
  const publicKey = read('pushVapidPublicKey', src);
  const privateKey = read('pushVapidPrivateKey', src);
  if ((publicKey === undefined) !== (privateKey === undefined))
    throw new FatalError(
      'PUSH_VAPID_PUBLIC_KEY and PUSH_VAPID_PRIVATE_KEY are set together or not at all',
      publicKey === undefined ? settings.pushVapidPublicKey.env : settings.pushVapidPrivateKey.env,
    );
  const caFile = read('pushCaFile', src);
  return Object.freeze({
    ...(publicKey && privateKey ? { vapid: Object.freeze({ publicKey, privateKey }) } : {}),
    subject: read('pushVapidSubject', src),
    timeoutMs: read('pushTimeout', src),
    ...(caFile ? { caFile } : {}),
  });
}

function smsConfig(src: Sources): SmsConfig {
  const provider = read('smsProvider', src);
  if (provider !== '')
    for (const key of SMS_REQUIRED[provider])
      if (read(key, src) === '')
        throw new FatalError(`must be set when AUTH_SMS_PROVIDER=${provider}`, settings[key].env);
  const testOtp: Record<string, string> = {};
  for (const pair of read('smsTestOtp', src).split(',')) {
    if (pair.trim() === '') continue;
    const [number = '', code = ''] = pair.split('=');
    // Stored as GoTrue stores numbers: no "+", no spaces.
    testOtp[number.trim().replace(/^\+/, '').replaceAll(' ', '')] = code.trim();
  }
  const validUntil = read('smsTestOtpValidUntil', src);
  return Object.freeze({
    enabled: read('smsEnabled', src),
    confirmation: read('smsConfirmation', src),
    provider,
    apiUrl: read('smsApiUrl', src),
    timeoutMs: read('smsTimeout', src),
    template: read('smsTemplate', src),
    maxFrequency: read('smsMaxFrequency', src),
    otpExpiry: read('smsOtpExpiry', src),
    otpLength: read('smsOtpLength', src),
    testOtp: Object.freeze(testOtp),
    testOtpValidUntil: validUntil === undefined ? undefined : new Date(validUntil),
    sentPerHour: read('rateLimitSmsSent', src),
    mfa: Object.freeze({
      enroll: read('mfaPhoneEnroll', src),
      verify: read('mfaPhoneVerify', src),
      otpLength: read('mfaPhoneOtpLength', src),
      template: read('mfaPhoneTemplate', src),
      maxFrequency: read('mfaPhoneMaxFrequency', src),
    }),
    twilio: Object.freeze({
      accountSid: read('twilioAccountSid', src),
      authToken: read('twilioAuthToken', src),
      messageServiceSid: read('twilioMessageServiceSid', src),
      contentSid: read('twilioContentSid', src),
    }),
    twilioVerify: Object.freeze({
      accountSid: read('twilioVerifyAccountSid', src),
      authToken: read('twilioVerifyAuthToken', src),
      messageServiceSid: read('twilioVerifyMessageServiceSid', src),
    }),
    messagebird: Object.freeze({
      accessKey: read('messagebirdAccessKey', src),
      originator: read('messagebirdOriginator', src),
    }),
    textlocal: Object.freeze({ apiKey: read('textlocalApiKey', src), sender: read('textlocalSender', src) }),
    vonage: Object.freeze({
      apiKey: read('vonageApiKey', src),
      apiSecret: read('vonageApiSecret', src),
      from: read('vonageFrom', src),
    }),
  });
}

/** Margin of the query deadline over the statement timeout: PostgreSQL's own cancel answers first. */
const DEADLINE_MARGIN_MS = 2000;

function readReplicasConfig(src: Sources): Config['readReplicas'] {
  const urls = read('databaseReadUrl', src);
  // The embedded database has no standbys: a replica of something else would serve other data.
  if (urls.length > 0 && read('databaseUrl', src) === undefined)
    throw new FatalError('needs DATABASE_URL: replicas are standbys of that server', 'DATABASE_READ_URL');
  return Object.freeze({
    urls: Object.freeze(urls),
    fenceWaitMs: read('readFenceWaitMs', src),
    maxLagMs: read('readMaxLagMs', src),
    probeIntervalMs: read('readProbeIntervalMs', src),
  });
}

/** The setting's schema checked it already: a failure here is a bug. */
function cacheTables(text: string | undefined): ReadonlyMap<string, number> {
  if (text === undefined) return new Map();
  const parsed = parseCacheTables(text);
  if (!parsed.ok) throw new Error(parsed.message);
  return parsed.tables;
}

function poolConfig(src: Sources): Config['pool'] {
  const statementTimeoutMs = read('statementTimeoutMs', src);
  const queryTimeoutMs =
    read('queryTimeoutMs', src) ?? (statementTimeoutMs === 0 ? 0 : statementTimeoutMs + DEADLINE_MARGIN_MS);
  return Object.freeze({
    max: read('poolMax', src),
    idleTimeoutMs: read('poolIdleTimeoutMs', src),
    connectTimeoutMs: read('connectTimeoutMs', src),
    statementTimeoutMs,
    queryTimeoutMs,
    preparedStatements: read('preparedStatements', src),
  });
}

/** One store's settings: a folder of the local disk, or an S3-compatible bucket. */
export type StoreSettings =
  { readonly kind: 'local'; readonly dir: string } | { readonly kind: 's3'; readonly s3: Config['storage']['s3'] };

function storageConfig(
  projectDir: string,
  dataDir: string,
  src: Sources,
  buckets: readonly ConfigBucket[],
  configStores: readonly ConfigStore[],
): Config['storage'] {
  const backend = read('storageBackend', src);
  const bucket = read('storageS3Bucket', src);
  if (backend === 's3' && bucket === undefined)
    throw new FatalError('must be set when STORAGE_BACKEND=s3', 'STORAGE_S3_BUCKET');
  const s3 = Object.freeze({
    endpoint: read('storageS3Endpoint', src),
    region: read('storageS3Region', src),
    bucket,
    accessKeyId: read('storageS3AccessKeyId', src),
    secretAccessKey: read('storageS3SecretAccessKey', src),
    forcePathStyle: read('storageS3ForcePathStyle', src),
  });
  const localDir = path.join(dataDir, 'storage');
  const stores: Record<string, StoreSettings> = {
    [DEFAULT_STORE]: Object.freeze(
      backend === 's3' ? { kind: 's3' as const, s3 } : { kind: 'local' as const, dir: localDir },
    ),
  };
  for (const st of configStores)
    stores[st.name] = Object.freeze(
      st.kind === 'local'
        ? // Relative to the project folder, as config.toml's other paths are to supabase/'s parent.
          { kind: 'local' as const, dir: path.resolve(projectDir, st.path) }
        : {
            kind: 's3' as const,
            s3: Object.freeze({
              endpoint: st.endpoint,
              region: st.region,
              bucket: st.bucket,
              accessKeyId: st.accessKeyId,
              secretAccessKey: st.secretAccessKey,
              forcePathStyle: st.forcePathStyle,
            }),
          },
    );
  return Object.freeze({
    backend,
    localDir,
    fileSizeLimit: read('storageFileSizeLimit', src),
    imageMaxInputBytes: read('storageImageMaxInput', src),
    resumable: Object.freeze({
      expiryMs: read('storageResumableExpiry', src),
      sweepEveryMs: read('storageResumableSweepInterval', src),
    }),
    orphans: Object.freeze({
      staleMs: read('storageWriteStale', src),
      sweepEveryMs: read('storageOrphanSweepInterval', src),
    }),
    testCommitDelayMs: read('storageTestCommitDelayMs', src),
    testMoveStopAfter: read('storageTestMoveStopAfter', src),
    buckets: Object.freeze([...buckets]),
    stores: Object.freeze(stores),
    s3,
  });
}

function backupConfig(dir: string, src: Sources): Config['backup'] {
  const given = read('backupTarget', src);
  const target =
    given === undefined ? path.join(dir, 'backups') : given.startsWith('s3://') ? given : path.resolve(dir, given);
  return Object.freeze({
    target,
    s3: Object.freeze({
      endpoint: read('backupS3Endpoint', src),
      region: read('backupS3Region', src),
      accessKeyId: read('backupS3AccessKeyId', src),
      secretAccessKey: read('backupS3SecretAccessKey', src),
      forcePathStyle: read('backupS3ForcePathStyle', src),
    }),
    archiveDir: path.join(dir, '.trellis', 'wal-archive'),
    archiveTimeoutS: read('backupArchiveTimeout', src),
    shipIntervalS: read('backupShipInterval', src),
    schedule: read('backupSchedule', src),
    keep: read('backupKeep', src),
    testDelayMs: read('backupTestDelayMs', src),
  });
}

/** Whether stdout is a terminal: chooses pretty logs over JSON lines. */
export function stdoutIsTty(): boolean {
  return process.stdout.isTTY === true;
}

/** The environment for helper processes (initdb, pg_ctl, postgres): none of Trellis's secrets. */
export function childProcessEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { LC_ALL: 'C', PATH: process.env.PATH ?? '/usr/bin:/bin' };
  if (process.env.TZ) env.TZ = process.env.TZ;
  return env;
}

/** The environment for a Trellis the benchmark harness starts: this one's, with `overrides` on top. */
export function benchServerEnv(overrides: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}

/**
 * What `trellis bench --target` may take from the environment instead of flags: the names
 * `trellis status -o json` prints, so its output can be exported as it is.
 */
export function benchTargetEnv(): {
  anonKey: string | undefined;
  serviceRoleKey: string | undefined;
  jwtSecret: string | undefined;
  dbUrl: string | undefined;
} {
  const get = (name: string) => (process.env[name] === '' ? undefined : process.env[name]);
  return {
    anonKey: get('ANON_KEY'),
    serviceRoleKey: get('SERVICE_ROLE_KEY'),
    jwtSecret: get('JWT_SECRET'),
    dbUrl: get('DB_URL'),
  };
}

/** [auth.webauthn] and the switches of its users; without an rp id or origins, the site URL's. */
function webauthnConfig(src: Sources, siteUrl: string): Config['auth']['webauthn'] {
  const site = new URL(siteUrl);
  const origins = (read('webauthnRpOrigins', src) ?? '')
    .split(',')
    .map((o) => o.trim().replace(/\/+$/, ''))
    .filter((o) => o !== '');
  return Object.freeze({
    mfaEnroll: read('mfaWebAuthnEnroll', src),
    mfaVerify: read('mfaWebAuthnVerify', src),
    rpDisplayName: read('webauthnRpDisplayName', src),
    rpId: read('webauthnRpId', src) ?? site.hostname,
    rpOrigins: Object.freeze(origins.length > 0 ? origins : [site.origin]),
    passkeys: read('passkeyEnabled', src),
  });
}
