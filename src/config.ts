/**
 * The one place that reads the environment. Flags and environment variables go through one table of
 * settings, each parsed by zod, into a frozen Config. docs/configuration.md documents every row.
 */
import path from 'node:path';
import { z } from 'zod';
import { FatalError } from './errors.js';

const int = (min: number, max: number) =>
  z.coerce
    .number({ error: () => `must be a whole number between ${min} and ${max}` })
    .int({ error: `must be a whole number between ${min} and ${max}` })
    .min(min, { error: `must be a whole number between ${min} and ${max}` })
    .max(max, { error: `must be a whole number between ${min} and ${max}` });

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

/** Every setting: where it comes from, how it is parsed, and what it means (rendered in the docs). */
export const settings = {
  dir: { flag: 'dir', env: 'TRELLIS_DIR', schema: z.string().min(1), fallback: '.', doc: 'Project folder: data in DIR/.trellis, migrations in DIR/supabase/migrations.' },
  port: { flag: 'port', env: 'PORT', schema: int(1, 65535), fallback: '54321', doc: 'HTTP port.' },
  host: { flag: 'host', env: 'HOST', schema: z.string().min(1), fallback: '127.0.0.1', doc: 'Address the HTTP server binds; 0.0.0.0 to accept connections from other machines.' },
  publicUrl: { env: 'API_EXTERNAL_URL', schema: httpUrl.optional(), doc: 'URL clients use to reach this server (printed as API_URL); defaults to http://HOST:PORT.' },
  databaseUrl: { env: 'DATABASE_URL', schema: postgresUrl.optional(), doc: 'PostgreSQL server to use instead of the embedded one.' },
  jwtSecret: { env: 'JWT_SECRET', schema: z.string().min(32, { error: 'must be at least 32 characters' }).optional(), doc: 'HS256 secret for access tokens and API keys; generated on first start when unset. Every instance of a cluster needs the same one.' },
  poolMax: { env: 'DB_POOL_MAX', schema: int(1, 1000), fallback: '10', doc: 'Most connections the server opens to PostgreSQL.' },
  poolIdleTimeoutMs: { env: 'DB_POOL_IDLE_TIMEOUT_MS', schema: int(0, 3_600_000), fallback: '10000', doc: 'An idle connection is closed after this many milliseconds (0: never).' },
  connectTimeoutMs: { env: 'DB_CONNECT_TIMEOUT_MS', schema: int(100, 60_000), fallback: '5000', doc: 'Give up opening a connection after this many milliseconds.' },
  statementTimeoutMs: { env: 'DB_STATEMENT_TIMEOUT_MS', schema: int(0, 3_600_000), fallback: '8000', doc: 'PostgreSQL cancels a statement that runs longer (0: no limit). Migrations are not limited.' },
  logLevel: { env: 'LOG_LEVEL', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), fallback: 'info', doc: 'Least severe log level written.' },
} as const;

type Settings = typeof settings;
type SettingValue<K extends keyof Settings> = z.output<Settings[K]['schema']>;

export interface Config {
  /** Absolute project folder. */
  readonly dir: string;
  /** `dir/.trellis`: secrets, the embedded database, runtime state. */
  readonly dataDir: string;
  /** `dir/supabase/migrations`. */
  readonly migrationsDir: string;
  readonly host: string;
  readonly port: number;
  readonly publicUrl: string;
  readonly databaseUrl: string | undefined;
  readonly jwtSecret: string | undefined;
  readonly pool: {
    readonly max: number;
    readonly idleTimeoutMs: number;
    readonly connectTimeoutMs: number;
    readonly statementTimeoutMs: number;
  };
  readonly logLevel: SettingValue<'logLevel'>;
  /** SIGTERM budget for in-flight requests and the embedded database; fixed by the CLI contract. */
  readonly shutdownTimeoutMs: number;
}

export type Flags = Readonly<Record<string, string | boolean | undefined>>;

function read<K extends keyof Settings>(key: K, flags: Flags, env: NodeJS.ProcessEnv): SettingValue<K> {
  const setting: Settings[K] = settings[key];
  const flagName = 'flag' in setting ? setting.flag : undefined;
  const fromFlag = flagName !== undefined ? flags[flagName] : undefined;
  const fromEnv = env[setting.env];
  const [raw, source] =
    typeof fromFlag === 'string'
      ? [fromFlag, `--${flagName}`]
      : fromEnv !== undefined && fromEnv !== ''
        ? [fromEnv, setting.env]
        : ['fallback' in setting ? setting.fallback : undefined, setting.env];
  const parsed = setting.schema.safeParse(raw);
  if (!parsed.success) {
    const shown = source.startsWith('--') || !/SECRET|URL/.test(source) ? ` (got "${raw}")` : '';
    throw new FatalError(`${parsed.error.issues[0]?.message ?? 'is invalid'}${shown}`, source);
  }
  return parsed.data as SettingValue<K>;
}

export function loadConfig(flags: Flags = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const dir = path.resolve(read('dir', flags, env));
  const host = read('host', flags, env);
  const port = read('port', flags, env);
  const displayHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return Object.freeze({
    dir,
    dataDir: path.join(dir, '.trellis'),
    migrationsDir: path.join(dir, 'supabase', 'migrations'),
    host,
    port,
    publicUrl: (read('publicUrl', flags, env) ?? `http://${displayHost}:${port}`).replace(/\/+$/, ''),
    databaseUrl: read('databaseUrl', flags, env),
    jwtSecret: read('jwtSecret', flags, env),
    pool: Object.freeze({
      max: read('poolMax', flags, env),
      idleTimeoutMs: read('poolIdleTimeoutMs', flags, env),
      connectTimeoutMs: read('connectTimeoutMs', flags, env),
      statementTimeoutMs: read('statementTimeoutMs', flags, env),
    }),
    logLevel: read('logLevel', flags, env),
    shutdownTimeoutMs: 10_000,
  });
}

/** Whether stdout is a terminal: chooses pretty logs over JSON lines. */
export function stdoutIsTty(): boolean {
  return process.stdout.isTTY === true;
}
