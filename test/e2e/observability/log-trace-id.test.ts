/**
 * Without a collector (no OTEL_EXPORTER_OTLP_ENDPOINT) nothing is exported and the SDK is never
 * loaded, but the traceparent a client sends still names the trace in the request's log line.
 */
import { createRequire } from 'node:module';
import pino from 'pino';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
const logged: Record<string, unknown>[] = [];

beforeAll(async () => {
  server = await startTestServer({
    env: { LOG_LEVEL: 'info' },
    log: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
  });
});
afterAll(async () => server?.stop());

test("a request's log line carries the caller's trace id; without a traceparent, none", async () => {
  const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
  const headers = { apikey: server.anonKey };
  expect(
    (
      await fetch(`${server.url}/auth/v1/health`, {
        headers: { ...headers, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      })
    ).status,
  ).toBe(200);
  expect((await fetch(`${server.url}/auth/v1/health`, { headers })).status).toBe(200);
  const lines = logged.filter((l) => l.msg === 'request' && l.path === '/auth/v1/health');
  expect(lines).toHaveLength(2);
  expect(lines[0]?.traceId).toBe(traceId);
  expect(lines[1]).not.toHaveProperty('traceId');
  // The SDK stayed unloaded.
  const cache = createRequire(import.meta.url).cache;
  expect(Object.keys(cache).some((k) => k.includes('@opentelemetry/sdk-trace'))).toBe(false);
});
