/**
 * When a database webhook is tried again (Trellis's addition: pg_net itself never retries): after a
 * network error, a timeout, a 5xx or a 429, up to `retries` more times, waiting `backoffMs`, then
 * twice as long each time, or what the receiver's Retry-After asks; each wait at most an hour. Pure.
 */
import type { SendOutcome } from './send.js';

export interface RetryPolicy {
  /** Attempts after the first. */
  readonly retries: number;
  /** The first wait; doubled after each further failure. */
  readonly backoffMs: number;
}

export const MAX_RETRY_WAIT_MS = 3_600_000;

/** Milliseconds to wait before the next attempt, or undefined when `outcome` is final. `attempts`: made so far. */
export function retryDelay(
  outcome: SendOutcome,
  attempts: number,
  policy: RetryPolicy,
  nowMs: number,
): number | undefined {
  if (attempts > policy.retries) return undefined;
  if (outcome.kind === 'response' && outcome.status < 500 && outcome.status !== 429) return undefined;
  const asked = outcome.kind === 'response' ? retryAfterMs(outcome.headers['retry-after'], nowMs) : undefined;
  const backoff = policy.backoffMs * 2 ** Math.max(0, attempts - 1);
  return Math.min(asked ?? backoff, MAX_RETRY_WAIT_MS);
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
