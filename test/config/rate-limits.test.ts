/** RATE_LIMIT_* and [api.rate_limits]: read into Config, bad values refused at start naming the setting. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FatalError, describeFatal } from '../../src/errors.js';

let dir: string;
const write = (text: string) => fs.writeFileSync(path.join(dir, 'supabase', 'config.toml'), text);
const failure = (env: Record<string, string>): string => {
  try {
    loadConfig({ dir }, env);
  } catch (err) {
    expect(err).toBeInstanceOf(FatalError);
    return describeFatal(err as FatalError);
  }
  throw new Error('expected loadConfig to fail');
};

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trellis-rates-'));
  fs.mkdirSync(path.join(dir, 'supabase'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('data API rate limits in the configuration', () => {
  test('off by default', () => {
    expect(loadConfig({ dir }, {}).apiRateLimits).toEqual({
      rest: undefined,
      storage: undefined,
      functions: undefined,
      realtime: undefined,
    });
  });

  test('the variables give each family its limit', () => {
    const config = loadConfig(
      { dir },
      {
        RATE_LIMIT_REST: '100/1m',
        RATE_LIMIT_STORAGE: '20/10s',
        RATE_LIMIT_FUNCTIONS: '5/1h',
        RATE_LIMIT_REALTIME: '50/s',
      },
    );
    expect(config.apiRateLimits).toEqual({
      rest: { points: 100, windowS: 60 },
      storage: { points: 20, windowS: 10 },
      functions: { points: 5, windowS: 3600 },
      realtime: { points: 50, windowS: 1 },
    });
    expect(Object.isFrozen(config.apiRateLimits.rest)).toBe(true);
  });

  test.each([
    [
      'RATE_LIMIT_REST',
      '100',
      'RATE_LIMIT_REST: must be COUNT/WINDOW such as 100/1m (window in s, m or h), or off (got "100")',
    ],
    ['RATE_LIMIT_STORAGE', '0/1m', 'RATE_LIMIT_STORAGE: the count must be between 1 and 1000000000'],
    ['RATE_LIMIT_FUNCTIONS', '1/2d', 'RATE_LIMIT_FUNCTIONS: must be COUNT/WINDOW'],
    ['RATE_LIMIT_REALTIME', '10/48h', 'RATE_LIMIT_REALTIME: the window must be between 1s and 24h'],
  ])('%s=%s is refused, naming the setting', (name, value, message) => {
    expect(failure({ [name]: value })).toContain(message);
  });

  test('[api.rate_limits] in config.toml, below the environment', () => {
    write('[api.rate_limits]\nrest = "100/1m"\nrealtime = "10/1s"\n');
    const config = loadConfig({ dir }, {});
    expect(config.apiRateLimits.rest).toEqual({ points: 100, windowS: 60 });
    expect(config.apiRateLimits.realtime).toEqual({ points: 10, windowS: 1 });
    expect(config.configFile?.unapplied).toEqual([]);
    expect(loadConfig({ dir }, { RATE_LIMIT_REST: 'off' }).apiRateLimits.rest).toBeUndefined();
  });

  test('a bad value in config.toml names its line and key', () => {
    write('[api]\nmax_rows = 1000\n\n[api.rate_limits]\nstorage = "lots"\n');
    expect(failure({})).toMatch(/config\.toml line 5 \(api\.rate_limits\.storage\).*must be COUNT\/WINDOW/);
    write('[api.rate_limits]\nrest = 100\n');
    expect(failure({})).toContain('must be a string');
  });
});
