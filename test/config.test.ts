import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadConfig, settings } from '../src/config.js';
import { redactUrl } from '../src/db/index.js';
import { FatalError, describeFatal } from '../src/errors.js';

const fail = (flags: Record<string, string>, env: Record<string, string>) => {
  try {
    loadConfig(flags, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FatalError);
    return describeFatal(err as FatalError);
  }
  throw new Error('expected loadConfig to fail');
};

describe('loadConfig', () => {
  test('defaults describe a local project on port 54321', () => {
    const config = loadConfig({}, {});
    expect(config.port).toBe(54321);
    expect(config.dir).toBe(process.cwd());
    expect(config.dataDir).toBe(path.join(process.cwd(), '.trellis'));
    expect(config.migrationsDir).toBe(path.join(process.cwd(), 'supabase', 'migrations'));
    expect(config.publicUrl).toBe('http://127.0.0.1:54321');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.pool).toEqual({
      max: 10,
      idleTimeoutMs: 10000,
      connectTimeoutMs: 5000,
      statementTimeoutMs: 8000,
      queryTimeoutMs: 10000,
      preparedStatements: true,
    });
    expect(config.metricsPublic).toBe(false);
    expect(config.drainGraceMs).toBe(5000);
    expect(Object.isFrozen(config)).toBe(true);
  });

  test.each([
    [{}, 10_000],
    [{ DB_STATEMENT_TIMEOUT_MS: '3000' }, 5000],
    [{ DB_STATEMENT_TIMEOUT_MS: '0' }, 0],
    [{ DB_STATEMENT_TIMEOUT_MS: '0', DB_QUERY_TIMEOUT_MS: '30000' }, 30_000],
    [{ DB_QUERY_TIMEOUT_MS: '0' }, 0],
  ])('the query deadline of %o is %i ms: the statement timeout and a margin unless set', (env, expected) => {
    expect(loadConfig({}, env).pool.queryTimeoutMs).toBe(expected);
  });

  test('a flag wins over its environment variable', () => {
    expect(loadConfig({ port: '6000' }, { PORT: '7000' }).port).toBe(6000);
    expect(loadConfig({}, { PORT: '7000' }).port).toBe(7000);
  });

  test('API_EXTERNAL_URL replaces the printed URL, without a trailing slash', () => {
    expect(loadConfig({}, { API_EXTERNAL_URL: 'https://api.example.com/' }).publicUrl).toBe('https://api.example.com');
  });

  test.each([
    [{ port: 'abc' }, {}, '--port: must be a whole number between 1 and 65535 (got "abc")'],
    [{ port: '70000' }, {}, '--port: must be a whole number between 1 and 65535 (got "70000")'],
    [{}, { PORT: '1.5' }, 'PORT: must be a whole number between 1 and 65535 (got "1.5")'],
    [
      {},
      { DATABASE_URL: 'mysql://x@y/z' },
      'DATABASE_URL: must be a URL like postgres://user:password@host:5432/database',
    ],
    [{}, { DATABASE_URL: 'not a url' }, 'DATABASE_URL: must be a URL like postgres://user:password@host:5432/database'],
    [{}, { JWT_SECRET: 'short' }, 'JWT_SECRET: must be at least 32 characters'],
    [{}, { DB_POOL_MAX: '0' }, 'DB_POOL_MAX: must be a whole number between 1 and 1000 (got "0")'],
    [{}, { LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{}, { API_EXTERNAL_URL: 'ftp://x' }, 'API_EXTERNAL_URL: must be an http:// or https:// URL'],
  ])('rejects %j %j naming the setting', (flags, env, message) => {
    expect(fail(flags, env)).toContain(message);
  });

  test('a secret in a bad value is not echoed back', () => {
    expect(fail({}, { DATABASE_URL: 'mysql://user:hunter2@host/db' })).not.toContain('hunter2');
  });

  test('docs/configuration.md documents every setting', () => {
    const docs = fs.readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    for (const setting of Object.values(settings)) {
      expect(docs, setting.env).toContain(`\`${setting.env}\``);
      if ('flag' in setting) expect(docs, setting.flag).toContain(`--${setting.flag}`);
    }
  });
});

describe('redactUrl', () => {
  test.each([
    ['postgres://app:s3cret@db.example.com:5432/app', 'postgres://app:*****@db.example.com:5432/app'],
    ['postgres://app@db.example.com/app', 'postgres://app@db.example.com/app'],
    ['not a url', '(unparseable URL)'],
  ])('%s', (url, shown) => expect(redactUrl(url)).toBe(shown));
});

test.each([['1e3'], ['0x7530'], ['-1'], [' 80']])('a port written as %j is refused', (port) => {
  expect(fail({ port }, {})).toMatch(/^--port: must be a whole number/);
});

describe('read replicas', () => {
  const primary = 'postgres://u:p@primary:5432/app';
  test('none by default; several comma-separated, with their waits', () => {
    expect(loadConfig({}, {}).readReplicas).toEqual({
      urls: [],
      fenceWaitMs: 50,
      maxLagMs: 5000,
      probeIntervalMs: 1000,
    });
    const config = loadConfig(
      {},
      {
        DATABASE_URL: primary,
        DATABASE_READ_URL: ' postgres://u:p@r1/app, postgresql://u:p@r2:6432/app ,',
        DB_READ_FENCE_WAIT_MS: '0',
        DB_READ_MAX_LAG_MS: '250',
        DB_READ_PROBE_INTERVAL_MS: '200',
      },
    );
    expect(config.readReplicas).toEqual({
      urls: ['postgres://u:p@r1/app', 'postgresql://u:p@r2:6432/app'],
      fenceWaitMs: 0,
      maxLagMs: 250,
      probeIntervalMs: 200,
    });
  });

  test.each([
    [{ DATABASE_READ_URL: 'postgres://u:p@r1/app' }, 'DATABASE_READ_URL: needs DATABASE_URL'],
    [
      { DATABASE_URL: primary, DATABASE_READ_URL: 'mysql://r1/app' },
      'DATABASE_READ_URL: must be a URL like postgres://',
    ],
    [{ DATABASE_URL: primary, DATABASE_READ_URL: 'postgres://r1/app,nope' }, 'DATABASE_READ_URL: must be a URL like'],
    [
      { DATABASE_URL: primary, DATABASE_READ_URL: Array(17).fill('postgres://r/app').join(',') },
      'DATABASE_READ_URL: at most 16 replicas',
    ],
    [{ DB_READ_FENCE_WAIT_MS: '-1' }, 'DB_READ_FENCE_WAIT_MS: must be a whole number between 0 and 10000'],
    [{ DB_READ_FENCE_WAIT_MS: '99999' }, 'DB_READ_FENCE_WAIT_MS: must be a whole number between 0 and 10000'],
    [{ DB_READ_PROBE_INTERVAL_MS: '10' }, 'DB_READ_PROBE_INTERVAL_MS: must be a whole number between 50 and 60000'],
    [{ DB_READ_MAX_LAG_MS: '1e3' }, 'DB_READ_MAX_LAG_MS: must be a whole number'],
  ])('rejects %j', (env, message) => {
    expect(fail({}, env)).toContain(message);
  });

  test('a replica URL with a password is not echoed back', () => {
    expect(fail({}, { DATABASE_URL: primary, DATABASE_READ_URL: 'mysql://u:hunter2@r/db' })).not.toContain('hunter2');
  });
});

describe('OpenTelemetry settings', () => {
  test('defaults: protobuf, no headers, parent-based always-on sampling', () => {
    const { tracing } = loadConfig({}, {});
    expect(tracing).toMatchObject({
      protocol: 'http/protobuf',
      headers: {},
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
    });
  });

  test('OTEL_EXPORTER_OTLP_HEADERS: name=value pairs, values percent-decoded, names lower-cased', () => {
    const { tracing } = loadConfig({}, { OTEL_EXPORTER_OTLP_HEADERS: 'X-Api-Key=a%20b%3Dc, tenant=one,' });
    expect(tracing.headers).toEqual({ 'x-api-key': 'a b=c', tenant: 'one' });
  });

  test.each([
    ['a pair without "="', 'justaname'],
    ['an empty name', '=value'],
    ['a name with a space', 'bad name=1'],
    ['a value with a line break', 'x=a%0Ab'],
    ['a NUL byte', 'x=a%00b'],
    ['broken percent-encoding', 'x=%E0%A4%A'],
  ])('OTEL_EXPORTER_OTLP_HEADERS with %s is refused, naming the setting', (_what, value) => {
    expect(fail({}, { OTEL_EXPORTER_OTLP_HEADERS: value })).toMatch(/OTEL_EXPORTER_OTLP_HEADERS.*name=value pairs/s);
  });

  test('protocol, sampler and its ratio are checked', () => {
    expect(fail({}, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toMatch(
      /OTEL_EXPORTER_OTLP_PROTOCOL.*gRPC is not supported/s,
    );
    expect(fail({}, { OTEL_TRACES_SAMPLER: 'sometimes' })).toMatch(/OTEL_TRACES_SAMPLER.*parentbased_traceidratio/s);
    expect(fail({}, { OTEL_TRACES_SAMPLER_ARG: '1.5' })).toMatch(/OTEL_TRACES_SAMPLER_ARG.*from 0 to 1/s);
    expect(fail({}, { OTEL_TRACES_SAMPLER_ARG: '-0.1' })).toMatch(/OTEL_TRACES_SAMPLER_ARG/);
    const { tracing } = loadConfig({}, { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' });
    expect(tracing).toMatchObject({ sampler: 'traceidratio', samplerRatio: 0.25 });
  });
});
