/** The HTTP hook client alone: standard-webhooks signatures and GoTrue's retry rules. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { callHttpHook, signWebhook } from '../../src/auth/hooks-http.js';

describe('standard-webhooks signature', () => {
  test("matches the specification's example", () => {
    const key = Buffer.from('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'base64');
    expect(signWebhook(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe(
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    );
  });
});

describe('reaching the endpoint', () => {
  let closedUrl = '';
  let flakyUrl = '';
  let calls = 0;
  let server: http.Server;
  beforeAll(async () => {
    // A port that was free a moment ago: nothing listens there.
    const probe = http.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    closedUrl = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/hook`;
    await new Promise((resolve) => probe.close(resolve));
    server = http.createServer((req, res) => {
      calls++;
      if (calls < 3) res.writeHead(429, { 'retry-after': '1' }).end();
      else res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' }).end('{"ok":true}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    flakyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  test('an endpoint that cannot be reached is tried three times, then hook_timeout_after_retry', async () => {
    const started = Date.now();
    await expect(callHttpHook(closedUrl, [], '{}', { timeoutMs: 5000, backoffMs: 50 })).rejects.toMatchObject({
      status: 422,
      code: 'hook_timeout_after_retry',
    });
    // Two waits between three attempts.
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  test('the deadline covers the waits: a long backoff ends in hook_timeout', async () => {
    await expect(callHttpHook(closedUrl, [], '{}', { timeoutMs: 200, backoffMs: 5000 })).rejects.toMatchObject({
      status: 422,
      code: 'hook_timeout',
      message: 'Failed to reach hook within maximum time of 0.200000 seconds',
    });
  });

  test('429 with Retry-After is tried again at once; the third answer counts', async () => {
    expect(await callHttpHook(flakyUrl, [], '{}', { timeoutMs: 2000 })).toBe('{"ok":true}');
    expect(calls).toBe(3);
  });
});
