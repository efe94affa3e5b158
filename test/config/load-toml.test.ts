/** loadConfig with a supabase/config.toml: the file below the environment and the flags, its errors named. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FatalError, describeFatal } from '../../src/errors.js';
import { supabaseInitConfigToml } from '../helpers/supabase-init.js';

let dir: string;
const write = (text: string) => fs.writeFileSync(path.join(dir, 'supabase', 'config.toml'), text);
const failure = (env: Record<string, string> = {}): string => {
  try {
    loadConfig({ dir }, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FatalError);
    return describeFatal(err as FatalError);
  }
  throw new Error('expected loadConfig to fail');
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-toml-'));
  fs.mkdirSync(path.join(dir, 'supabase'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('supabase/config.toml', () => {
  test('signing_keys_path is taken from supabase/, as the CLI does; AUTH_SIGNING_KEYS_PATH from the working folder', () => {
    write('[auth]\nsigning_keys_path = "./signing_keys.json"\n');
    expect(loadConfig({ dir }, {}).auth.signingKeysPath).toBe(path.join(dir, 'supabase', 'signing_keys.json'));
    expect(loadConfig({ dir }, { AUTH_SIGNING_KEYS_PATH: 'keys.json' }).auth.signingKeysPath).toBe(
      path.resolve(process.cwd(), 'keys.json'),
    );
    expect(loadConfig({ dir }, {}).configFile?.unapplied).toEqual([]);
  });

  test('the `supabase init` template gives Supabase local values', () => {
    write(supabaseInitConfigToml());
    const config = loadConfig({ dir }, {});
    expect(config.port).toBe(54321);
    expect(config.rest.schemas).toEqual(['public', 'graphql_public']);
    expect(config.auth.siteUrl).toBe('http://127.0.0.1:3000');
    expect(config.auth.redirectUrls).toEqual(['https://127.0.0.1:3000']);
    expect(config.auth.rateLimits.emailMaxFrequency).toBe(1);
    expect(config.auth.mfa).toEqual({ totpEnroll: false, totpVerify: false, maxEnrolledFactors: 10 });
    expect(config.storage.fileSizeLimit).toBe(52_428_800);
    expect(config.seed).toEqual({ enabled: true, dir: path.join(dir, 'supabase'), paths: ['./seed.sql'] });
    expect(config.configFile).toEqual({ path: path.join(dir, 'supabase', 'config.toml'), unapplied: [] });
  });

  test('without the file: Trellis defaults, supabase/seed.sql, no file reported', () => {
    const config = loadConfig({ dir }, {});
    expect(config.rest.maxRows).toBe(1000);
    expect(config.auth.siteUrl).toBe('http://127.0.0.1:54321');
    expect(config.auth.mfa.totpEnroll).toBe(true);
    expect(config.seed.paths).toEqual(['./seed.sql']);
    expect(config.configFile).toBeUndefined();
  });

  test('an environment variable wins over the file, and a flag over both', () => {
    write('[api]\nport = 6000\nmax_rows = 50\n[auth]\nsite_url = "https://app.example.com"\n');
    expect(loadConfig({ dir }, {}).rest.maxRows).toBe(50);
    expect(loadConfig({ dir }, { REST_MAX_ROWS: '70' }).rest.maxRows).toBe(70);
    expect(loadConfig({ dir }, {}).port).toBe(6000);
    expect(loadConfig({ dir }, { PORT: '6001' }).port).toBe(6001);
    expect(loadConfig({ dir, port: '6002' }, { PORT: '6001' }).port).toBe(6002);
    expect(loadConfig({ dir }, { AUTH_SITE_URL: 'https://other.example.com' }).auth.siteUrl).toBe(
      'https://other.example.com',
    );
  });

  test("[api] extra_search_path: the schemas after the request's own on its search_path", () => {
    expect(loadConfig({ dir }, {}).rest.extraSearchPath).toEqual(['public', 'extensions']);
    write('[api]\nextra_search_path = ["public", "extensions", "lib"]\n');
    const config = loadConfig({ dir }, {});
    expect(config.rest.extraSearchPath).toEqual(['public', 'extensions', 'lib']);
    expect(config.configFile?.unapplied).toEqual([]);
    expect(loadConfig({ dir }, { REST_EXTRA_SEARCH_PATH: 'lib' }).rest.extraSearchPath).toEqual(['lib']);
  });

  test('the keys not applied are listed', () => {
    write('[studio]\nport = 6000\n[auth]\npassword_requirements = "letters_digits"\n');
    expect(loadConfig({ dir }, {}).configFile?.unapplied).toEqual(['studio.port', 'auth.password_requirements']);
  });

  test.each([
    [
      '[api]\nmax_rows = "x"\n',
      {},
      'supabase/config.toml line 2 (api.max_rows): must be a whole number (got the string "x")',
    ],
    // A value of the right type out of the setting's range: the setting's own message, at the key.
    [
      '[auth]\n\njwt_expiry = 10\n',
      {},
      'supabase/config.toml line 3 (auth.jwt_expiry): must be a whole number between 30 and 604800 (got "10")',
    ],
    [
      '[api]\nschemas = []\n',
      {},
      'supabase/config.toml line 2 (api.schemas): must be a comma-separated list of schema names (got "")',
    ],
    [
      '[auth]\nsite_url = "localhost:3000"\n',
      {},
      'supabase/config.toml line 2 (auth.site_url): must be an http:// or https:// URL',
    ],
    ['[api]\nmax_rows = \n', {}, 'supabase/config.toml line 2, column 12: invalid value'],
    [
      '[auth]\nsite_url = "env(SITE_URL)"\n',
      {},
      'supabase/config.toml line 2 (auth.site_url): env(SITE_URL): the environment variable SITE_URL is not set',
    ],
  ])('%j fails: %s', (text, env, message) => {
    write(text);
    const shown = failure(env).replace(path.join(dir, 'supabase', 'config.toml'), 'supabase/config.toml');
    expect(shown).toBe(message);
  });

  test('an env() the environment fills is used', () => {
    write('[auth]\nsite_url = "env(SITE_URL)"\n');
    expect(loadConfig({ dir }, { SITE_URL: 'https://app.example.com' }).auth.siteUrl).toBe('https://app.example.com');
  });

  test('env() also reads the dotenv files the CLI loads: supabase/ first, the environment over all', () => {
    write('[auth]\nsite_url = "env(SITE_URL)"\nadditional_redirect_urls = ["env(OTHER)", "env(LOCAL)"]\n');
    fs.writeFileSync(
      path.join(dir, 'supabase', '.env'),
      'SITE_URL=https://from-supabase-env.example.com\nOTHER=https://other.example.com\n',
    );
    fs.writeFileSync(path.join(dir, 'supabase', '.env.local'), 'LOCAL=https://local.example.com\n');
    fs.writeFileSync(path.join(dir, '.env'), 'SITE_URL=https://from-project-env.example.com\n');
    const config = loadConfig({ dir }, {});
    expect(config.auth.siteUrl).toBe('https://from-supabase-env.example.com');
    expect(config.auth.redirectUrls).toEqual(['https://other.example.com', 'https://local.example.com']);
    expect(loadConfig({ dir }, { SITE_URL: 'https://from-env.example.com' }).auth.siteUrl).toBe(
      'https://from-env.example.com',
    );
    // SUPABASE_ENV=test skips .env.local, as the CLI does.
    expect(failure({ SUPABASE_ENV: 'test' })).toMatch(/env\(LOCAL\): the environment variable LOCAL is not set$/);
    // They feed env() only, not Trellis's own settings.
    fs.writeFileSync(path.join(dir, 'supabase', '.env'), 'SITE_URL=https://a.example.com\nOTHER=x\nREST_MAX_ROWS=5\n');
    expect(loadConfig({ dir }, {}).rest.maxRows).toBe(1000);
  });

  test('the message names the file as the folder was given', () => {
    write('[api]\nmax_rows = "x"\n');
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      expect(() => loadConfig({ dir: '.' }, {})).toThrow(FatalError);
      try {
        loadConfig({ dir: '.' }, {});
      } catch (err) {
        expect(describeFatal(err as FatalError)).toMatch(/^supabase\/config\.toml line 2 \(api\.max_rows\): /);
      }
    } finally {
      process.chdir(cwd);
    }
  });
});
