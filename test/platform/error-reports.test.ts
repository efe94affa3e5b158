/**
 * SENTRY_DSN: an unhandled error in a request, rendered as a 500 by the one renderer, reaches a
 * server speaking Sentry's envelope protocol on loopback, tagged with its request id; the client
 * sees only "internal server error". A handled error (an ApiError, a 4xx) is not reported.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import pino from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ApiError } from '../../src/errors.js';
import { startErrorReports, type ErrorReports } from '../../src/platform/error-reports.js';
import { renderError, requestContext, type HttpEnv } from '../../src/platform/http.js';
import { createMetrics } from '../../src/platform/metrics.js';

interface SentryEvent {
  exception?: { values: { type: string; value: string }[] };
  tags?: Record<string, string>;
  environment?: string;
}

let receiver: http.Server;
let reports: ErrorReports | undefined;
const events: SentryEvent[] = [];
const paths: string[] = [];

beforeAll(async () => {
  // Sentry's envelope: newline-separated JSON, a header, then item headers each followed by its payload.
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      paths.push(req.url ?? '');
      const lines = body.split('\n').filter(Boolean);
      for (let i = 1; i + 1 < lines.length; i += 2) {
        const item = JSON.parse(lines[i] ?? '{}') as { type?: string };
        if (item.type === 'event') events.push(JSON.parse(lines[i + 1] ?? '{}') as SentryEvent);
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  reports = await startErrorReports(
    { dsn: `http://publickey@127.0.0.1:${port}/42`, environment: 'test' },
    pino({ level: 'silent' }),
  );
});
afterAll(async () => {
  await reports?.close(1000);
  receiver?.close();
});

function app(): Hono<HttpEnv> {
  const log = pino({ level: 'silent' });
  const a = new Hono<HttpEnv>();
  a.use(
    '*',
    requestContext(
      log,
      createMetrics(() => undefined),
    ),
  );
  a.get('/bug', () => {
    throw new TypeError('a bug in a handler');
  });
  a.get('/refused', () => {
    throw new ApiError(400, 'bad_request', 'a handled refusal');
  });
  a.onError(renderError);
  return a;
}

test('an unhandled error is reported with its request id; the client sees no detail', async () => {
  const res = await app().request('/bug', { headers: { 'x-request-id': 'req-sentry-1' } });
  expect(res.status).toBe(500);
  const text = await res.text();
  expect(text).not.toContain('a bug in a handler');
  for (let i = 0; i < 50 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect(paths[0]).toMatch(/^\/api\/42\/envelope\//);
  expect(events).toHaveLength(1);
  expect(events[0]?.exception?.values[0]).toMatchObject({ type: 'TypeError', value: 'a bug in a handler' });
  expect(events[0]?.tags).toMatchObject({ requestId: 'req-sentry-1', method: 'GET', path: '/bug' });
  expect(events[0]?.environment).toBe('test');
});

test('a handled refusal (4xx) is not reported', async () => {
  const before = events.length;
  expect((await app().request('/refused')).status).toBe(400);
  await new Promise((r) => setTimeout(r, 500));
  expect(events).toHaveLength(before);
});
