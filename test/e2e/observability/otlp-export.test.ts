/**
 * OTLP export as collectors and vendors take it: protobuf by default, the headers of
 * OTEL_EXPORTER_OTLP_HEADERS on every export, sampling by OTEL_TRACES_SAMPLER, and a broadcast's
 * fan-out on another instance (Redis) in the sender's trace. The collector on loopback decodes the
 * protobuf bodies with the few wire rules OTLP's spans need.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRealtime, subscribed, waitFor } from '../../helpers/realtime.js';
import { startTestServer, supabaseClient, type TestServer } from '../../helpers/server.js';

interface Span {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
}

/** The fields of a protobuf message: field number → its values (varints as numbers, the rest as bytes). */
function fields(buf: Buffer): Map<number, (Buffer | number)[]> {
  const out = new Map<number, (Buffer | number)[]>();
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = buf[at++] as number;
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
      shift += 7;
    }
  };
  while (at < buf.length) {
    const key = varint();
    const [field, wire] = [Math.floor(key / 8), key % 8];
    let value: Buffer | number;
    if (wire === 0) value = varint();
    else if (wire === 1) value = buf.subarray(at, (at += 8));
    else if (wire === 5) value = buf.subarray(at, (at += 4));
    else if (wire === 2) {
      const length = varint();
      value = buf.subarray(at, (at += length));
    } else throw new Error(`protobuf wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}
const messages = (m: Map<number, (Buffer | number)[]>, field: number) =>
  (m.get(field) ?? []).filter((v): v is Buffer => Buffer.isBuffer(v)).map(fields);
const bytes = (m: Map<number, (Buffer | number)[]>, field: number) => {
  const value = m.get(field)?.[0];
  return Buffer.isBuffer(value) ? value : Buffer.alloc(0);
};

/** ExportTraceServiceRequest → resource_spans(1) → scope_spans(2) → spans(2): ids 1, 2, parent 4, name 5. */
function decodeSpans(body: Buffer): Span[] {
  return messages(fields(body), 1).flatMap((resource) =>
    messages(resource, 2).flatMap((scope) =>
      messages(scope, 2).map((span) => ({
        traceId: bytes(span, 1).toString('hex'),
        spanId: bytes(span, 2).toString('hex'),
        parentSpanId: bytes(span, 4).toString('hex'),
        name: bytes(span, 5).toString('utf8'),
      })),
    ),
  );
}

let collector: http.Server;
let endpoint: string;
const exports: { contentType: string | undefined; key: string | undefined; spans: Span[] }[] = [];
const spans = () => exports.flatMap((e) => e.spans);

beforeAll(async () => {
  collector = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      exports.push({
        contentType: req.headers['content-type'],
        key: req.headers['x-collector-key'] as string | undefined,
        spans: req.headers['content-type'] === 'application/x-protobuf' ? decodeSpans(body) : [],
      });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});
afterAll(() => collector?.close());

const tracingEnv = () => ({
  OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
  OTEL_BSP_SCHEDULE_DELAY: '100',
  // A comma inside a value is percent-encoded, as the spec's format has it.
  OTEL_EXPORTER_OTLP_HEADERS: 'X-Collector-Key=s3cret%2Cone',
});

describe('protobuf export with headers', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: tracingEnv() });
  });
  afterAll(async () => server?.stop());

  test("a request's span goes out as protobuf, carrying the configured header", async () => {
    const traceId = crypto.randomBytes(16).toString('hex');
    const parent = crypto.randomBytes(8).toString('hex');
    const res = await fetch(`${server.url}/rest/v1/`, {
      headers: { apikey: server.anonKey, traceparent: `00-${traceId}-${parent}-01` },
    });
    expect(res.status).toBeLessThan(500);
    const span = await waitFor(() => spans().find((s) => s.traceId === traceId && s.parentSpanId === parent));
    expect(span.parentSpanId).toBe(parent);
    const carrying = exports.find((e) => e.spans.some((s) => s.traceId === traceId));
    expect(carrying?.contentType).toBe('application/x-protobuf');
    expect(carrying?.key).toBe('s3cret,one');
  });
});

describe('sampling: parentbased_traceidratio at 0', () => {
  let server: TestServer;
  const logged: Record<string, unknown>[] = [];
  beforeAll(async () => {
    server = await startTestServer({
      env: {
        ...tracingEnv(),
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0',
        LOG_LEVEL: 'info',
      },
      log: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
    });
  });
  afterAll(async () => server?.stop());

  test("a caller's sampled trace is recorded, a new trace is not, and neither is a caller's unsampled one", async () => {
    const get = (traceparent?: string) =>
      fetch(`${server.url}/rest/v1/`, {
        headers: { apikey: server.anonKey, 'x-request-id': crypto.randomUUID(), ...(traceparent && { traceparent }) },
      });
    const unsampled = crypto.randomBytes(16).toString('hex');
    await get(`00-${unsampled}-${crypto.randomBytes(8).toString('hex')}-00`);
    const before = logged.length;
    await get();
    const fresh = logged.slice(before).find((l) => l.msg === 'request')?.traceId;
    expect(fresh).toMatch(/^[0-9a-f]{32}$/);
    const sampled = crypto.randomBytes(16).toString('hex');
    await get(`00-${sampled}-${crypto.randomBytes(8).toString('hex')}-01`);
    await waitFor(() => spans().some((s) => s.traceId === sampled));
    // Two more export rounds: anything of the others would have gone out by now.
    await new Promise((r) => setTimeout(r, 300));
    expect(spans().some((s) => s.traceId === unsampled || s.traceId === fresh)).toBe(false);
  });
});

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) console.warn('otlp-export: REDIS_URL is not set, the cross-instance fan-out test is skipped');

describe.runIf(redisUrl !== undefined)('two instances sharing Redis', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ env: { ...tracingEnv(), REDIS_URL: redisUrl!, OTEL_SERVICE_NAME: 'trellis-a' } });
    b = await startTestServer({
      env: { ...tracingEnv(), REDIS_URL: redisUrl!, OTEL_SERVICE_NAME: 'trellis-b' },
      databaseUrl: a.databaseUrl,
    });
  });
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
  });

  test("a broadcast's fan-out on the other instance is a child of the sender's message span", async () => {
    const heard: unknown[] = [];
    const [sender, listener] = [supabaseClient(a), supabaseClient(b)];
    await subscribed(listener.channel('traced-across').on('broadcast', { event: 'hop' }, (m) => heard.push(m.payload)));
    const channel = await subscribed(sender.channel('traced-across'));
    // Until B has heard A on the bus, a broadcast may go before B subscribed to it: send until heard.
    for (let i = 0; i < 50 && heard.length === 0; i++) {
      await channel.send({ type: 'broadcast', event: 'hop', payload: { n: 1 } });
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(heard.length).toBeGreaterThan(0);
    const fanouts = async () => {
      for (let i = 0; i < 100; i++) {
        const message = spans().filter((s) => s.name === 'realtime broadcast');
        for (const m of message) {
          const children = spans().filter((s) => s.name === 'realtime.fanout' && s.parentSpanId === m.spanId);
          // One here (no recipient but the sender, who is left out) and one on B, which delivered it.
          if (children.length === 2) return { message: m, children };
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('no broadcast with a fan-out span on each instance');
    };
    const { message, children } = await fanouts();
    for (const child of children) expect(child.traceId).toBe(message.traceId);
    await closeRealtime(sender, listener);
  });
});
