import { expect, test } from 'vitest';
import { failureError, failureReason } from '../../src/functions/failures.js';
import type { CallFailure } from '../../src/functions/runtime.js';

test.each<[CallFailure, number, string, RegExp, string | undefined]>([
  [{ kind: 'missing' }, 404, 'NOT_FOUND', /^Requested function was not found$/, undefined],
  [{ kind: 'build', message: 'index.ts:1: Expected ")"' }, 503, 'BOOT_ERROR', /failed to start.*Expected/, undefined],
  [{ kind: 'boot', message: 'Error: boom' }, 503, 'BOOT_ERROR', /boom/, 'boot'],
  [
    { kind: 'limit', end: { kind: 'cpu', message: 'over 2000 ms' } },
    546,
    'WORKER_LIMIT',
    /compute resources.*2000/,
    'cpu',
  ],
  [{ kind: 'limit', end: { kind: 'memory', message: 'over 256 MB' } }, 546, 'WORKER_LIMIT', /256 MB/, 'memory'],
  [
    { kind: 'limit', end: { kind: 'crash', message: 'exited' } },
    546,
    'WORKER_ERROR',
    /Function failed.*exited/,
    'crash',
  ],
  [{ kind: 'limit', end: { kind: 'boot', message: 'no handler' } }, 503, 'BOOT_ERROR', /no handler/, 'boot'],
  [{ kind: 'timeout', seconds: 150 }, 504, 'IDLE_TIMEOUT', /wall-clock limit of 150 s/, 'timeout'],
  [
    { kind: 'threw', message: 'secret detail' },
    500,
    'EDGE_FUNCTION_ERROR',
    /^The function threw an error \(please check logs\)$/,
    undefined,
  ],
  [{ kind: 'not-response', got: 'number' }, 500, 'EDGE_FUNCTION_ERROR', /returned number, not a Response/, undefined],
  [{ kind: 'too-large', limit: 1024 }, 413, 'PAYLOAD_TOO_LARGE', /limit of 1024 bytes/, undefined],
  [{ kind: 'busy' }, 503, 'WORKER_BUSY', /concurrency limit/, undefined],
])('%j answers %i %s', (failure, status, code, message, reason) => {
  const error = failureError(failure);
  expect(error.status).toBe(status);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
  expect(error.extra.headers?.['sb-error-code']).toBe(code);
  expect(failureReason(failure)).toBe(reason);
});

test("a handler's own error message never reaches the caller", () => {
  expect(failureError({ kind: 'threw', message: 'password=hunter2' }).message).not.toContain('hunter2');
});
