import os from 'node:os';
import { expect, test } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { FatalError, describeFatal } from '../../src/errors.js';

const cores = Math.min(os.availableParallelism(), 8);

test.each([
  ['unset, in development', {}, {}, 1],
  ['unset, in production', {}, { NODE_ENV: 'production' }, cores],
  ['auto', {}, { TRELLIS_WORKERS: 'auto' }, cores],
  ['a number', {}, { TRELLIS_WORKERS: '3' }, 3],
  ['the flag over the variable', { workers: '2' }, { TRELLIS_WORKERS: '5' }, 2],
  ['1 in production', {}, { NODE_ENV: 'production', TRELLIS_WORKERS: '1' }, 1],
])('workers %s', (_name, flags, env, workers) => {
  expect(loadConfig(flags, env).workers).toBe(workers);
});

test.each([['0'], ['65'], ['-1'], ['two'], ['2.5'], [' 2'], ['AUTO']])('--workers %j is refused', (value) => {
  try {
    loadConfig({ workers: value }, {});
    expect.unreachable();
  } catch (err) {
    expect(err).toBeInstanceOf(FatalError);
    expect(describeFatal(err as FatalError)).toMatch(/^--workers: must be auto or a whole number between 1 and 64/);
  }
});

test.each([
  [{}, 'auto'],
  [{ TRELLIS_BUS: 'postgres' }, 'postgres'],
  [{ TRELLIS_BUS: 'memory' }, 'memory'],
])('the bus setting %j', (env, bus) => expect(loadConfig({}, env).bus).toBe(bus));

test('an unknown bus is refused by name', () => {
  expect(() => loadConfig({}, { TRELLIS_BUS: 'kafka' })).toThrow(/must be auto, memory or postgres/);
});
