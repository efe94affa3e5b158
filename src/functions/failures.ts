/**
 * A failed call in the words of Supabase's edge runtime and gateway (status, code, message), as
 * supabase-js's FunctionsHttpError carries them to the caller. The one renderer (platform/http.ts)
 * writes the body: `{ code, message }`; the code is also the `sb-error-code` header, which
 * Supabase's docs tell apps to read.
 */
import { ApiError } from '../errors.js';
import type { CallFailure } from './runtime.js';

export const edgeError = (status: number, code: string, message: string, headers: Record<string, string> = {}) =>
  new ApiError(status, code, message, { headers: { 'sb-error-code': code, ...headers } });

export const NOT_FOUND = () => edgeError(404, 'NOT_FOUND', 'Requested function was not found');

export function failureError(failure: CallFailure): ApiError {
  switch (failure.kind) {
    case 'missing':
      return NOT_FOUND();
    case 'build':
    case 'boot':
      return edgeError(503, 'BOOT_ERROR', `Function failed to start (please check logs): ${failure.message}`);
    case 'limit': {
      const { end } = failure;
      if (end.kind === 'cpu' || end.kind === 'memory')
        return edgeError(
          546,
          'WORKER_LIMIT',
          `Function failed due to not having enough compute resources (please check logs): ${end.message}`,
        );
      if (end.kind === 'boot')
        return edgeError(503, 'BOOT_ERROR', `Function failed to start (please check logs): ${end.message}`);
      return edgeError(546, 'WORKER_ERROR', `Function failed (please check logs): ${end.message}`);
    }
    case 'timeout':
      return edgeError(
        504,
        'IDLE_TIMEOUT',
        `Function timed out: it did not answer within its wall-clock limit of ${failure.seconds} s`,
      );
    case 'threw':
      return edgeError(500, 'EDGE_FUNCTION_ERROR', 'The function threw an error (please check logs)');
    case 'not-response':
      return edgeError(
        500,
        'EDGE_FUNCTION_ERROR',
        `The function's handler returned ${failure.got}, not a Response (please check logs)`,
      );
    case 'too-large':
      return edgeError(
        413,
        'PAYLOAD_TOO_LARGE',
        `The request body is larger than the limit of ${failure.limit} bytes (FUNCTIONS_MAX_BODY_BYTES)`,
      );
    case 'busy':
      return edgeError(503, 'WORKER_BUSY', 'The function is at its concurrency limit; retry shortly', {
        'retry-after': '1',
      });
  }
}

/** The reason label of a failure for /metrics, or undefined when it is no limit or crash. */
export function failureReason(failure: CallFailure): string | undefined {
  if (failure.kind === 'limit') return failure.end.kind;
  if (failure.kind === 'timeout' || failure.kind === 'boot') return failure.kind;
  return undefined;
}
