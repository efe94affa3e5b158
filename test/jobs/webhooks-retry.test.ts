/** When a webhook is tried again and how long it waits (retry.ts), and the signature (sign.ts): pure. */
import crypto from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { MAX_RETRY_WAIT_MS, retryAfterMs, retryDelay } from '../../src/jobs/webhooks/retry.js';
import type { SendOutcome } from '../../src/jobs/webhooks/send.js';
import { signatureHeaders } from '../../src/jobs/webhooks/sign.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const policy = { retries: 3, backoffMs: 1000 };
const answer = (status: number, headers: Record<string, string> = {}): SendOutcome => ({
  kind: 'response',
  status,
  contentType: null,
  headers,
  content: '',
  truncated: false,
});

describe('retryDelay', () => {
  test.each<[string, SendOutcome, number, number | undefined]>([
    ['a 200 is final', answer(200), 1, undefined],
    ['a 404 is final', answer(404), 1, undefined],
    ['a 301 is final (redirects are answers)', answer(301), 1, undefined],
    ['a 500 waits the backoff', answer(500), 1, 1000],
    ['a 503 after two attempts waits twice as long', answer(503), 2, 2000],
    ['a 429 is retried', answer(429), 3, 4000],
    ['a timeout is retried', { kind: 'timeout', message: 't' }, 1, 1000],
    ['a refused connection is retried', { kind: 'error', message: 'ECONNREFUSED' }, 1, 1000],
    ['past the retries, the outcome is final', answer(500), 4, undefined],
    ['Retry-After in seconds takes the place of the backoff', answer(503, { 'retry-after': '7' }), 1, 7000],
    ['Retry-After as a date', answer(429, { 'retry-after': new Date(NOW + 30_000).toUTCString() }), 1, 30_000],
    ['an unreadable Retry-After falls back to the backoff', answer(503, { 'retry-after': 'soon' }), 2, 2000],
    ['a Retry-After past an hour is cut to an hour', answer(503, { 'retry-after': '86400' }), 1, MAX_RETRY_WAIT_MS],
  ])('%s', (_name, outcome, attempts, expected) => {
    expect(retryDelay(outcome, attempts, policy, NOW)).toBe(expected);
  });

  test('the doubling stops at an hour', () => {
    expect(retryDelay(answer(500), 20, { retries: 20, backoffMs: 1_000_000 }, NOW)).toBe(MAX_RETRY_WAIT_MS);
  });

  test('no retries: the first outcome is final', () => {
    expect(retryDelay(answer(500), 1, { retries: 0, backoffMs: 10 }, NOW)).toBeUndefined();
  });

  test('a Retry-After date in the past means now', () => {
    expect(retryAfterMs(new Date(NOW - 5000).toUTCString(), NOW)).toBe(0);
  });
});

describe('signatureHeaders', () => {
  test('signs "id.timestamp.body" with HMAC-SHA256, as a Standard Webhooks receiver checks it', () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    const body = Buffer.from('{"type":"INSERT"}');
    const headers = signatureHeaders([key], 'msg_1', 1_700_000_000, body);
    const mac = crypto.createHmac('sha256', key).update('msg_1.1700000000.{"type":"INSERT"}').digest('base64');
    expect(headers).toEqual({
      'webhook-id': 'msg_1',
      'webhook-timestamp': '1700000000',
      'webhook-signature': `v1,${mac}`,
    });
  });

  test('during a rotation each key signs, space-separated', () => {
    const [a, b] = [Buffer.alloc(32, 1), Buffer.alloc(32, 2)];
    const mac = (key: Buffer) => crypto.createHmac('sha256', key).update('msg_2.1.').digest('base64');
    expect(signatureHeaders([a, b], 'msg_2', 1, Buffer.alloc(0))['webhook-signature']).toBe(
      `v1,${mac(a)} v1,${mac(b)}`,
    );
  });
});
