/**
 * OpenTelemetry: supabase-js's request with a W3C traceparent becomes a server span of the same
 * trace, the caller's span its parent, with the SQL it ran as child spans, exported over OTLP/HTTP
 * to a collector on loopback; the request's log line carries the trace id. A malformed
 * traceparent starts a new trace, never an error.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createClient } from '@supabase/supabase-js';
import pino from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { subscribed } from '../../helpers/realtime.js';
import { logicalDatabase } from '../../realtime/changes/helpers.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

let server: TestServer;
// postgres_changes needs wal_level=logical, which the machine's PostgreSQL may not have.
let database: Awaited<ReturnType<typeof logicalDatabase>>;
let collector: http.Server;
const spans: OtlpSpan[] = [];
const logged: Record<string, unknown>[] = [];
const posts: string[] = [];

beforeAll(async () => {
  // A collector that keeps what it is sent: OTLP over HTTP with JSON bodies.
  collector = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      posts.push(`${req.method} ${req.url} ${req.headers['content-type']}`);
      const parsed = JSON.parse(body) as {
        resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
      };
      for (const r of parsed.resourceSpans) for (const s of r.scopeSpans) spans.push(...s.spans);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const { port } = collector.address() as AddressInfo;
  database = await logicalDatabase();
  server = await startTestServer({
    databaseUrl: database.url,
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      LOG_LEVEL: 'info',
    },
    log: pino({ level: 'info' }, { write: (line: string) => void logged.push(JSON.parse(line)) }),
    files: {
      'supabase/functions/hello/index.ts': `Deno.serve((req) => Response.json({ hello: 'traced', traceparent: req.headers.get('traceparent') }));\n`,
    },
    migrations: {
      '0001_notes.sql': `create table public.notes (id bigint primary key, body text);
        alter table public.notes enable row level security;
        create policy "anyone reads" on public.notes for select to anon using (true);
        grant select on public.notes to anon;
        insert into public.notes values (1, 'traced');
        alter publication supabase_realtime add table public.notes;`,
    },
  });
}, 120_000);
afterAll(async () => {
  await server?.stop();
  await database?.stop();
  collector?.close();
});

const attribute = (span: OtlpSpan, key: string) => {
  const value = span.attributes.find((a) => a.key === key)?.value;
  return value?.stringValue ?? (value?.intValue === undefined ? undefined : Number(value.intValue));
};

async function spansOf(traceId: string, atLeast: number): Promise<OtlpSpan[]> {
  for (let i = 0; i < 100; i++) {
    const found = spans.filter((s) => s.traceId === traceId);
    // The request's span ends last, so it may come in a later export than its children.
    if (found.length >= atLeast && found.some((s) => s.kind === 2)) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no spans of trace ${traceId} reached the collector (it got: ${posts.join('; ')})`);
}

test("supabase-js's traceparent: a server span of its trace, SQL spans under it, exported over OTLP", async () => {
  const traceId = crypto.randomBytes(16).toString('hex');
  const callerSpan = crypto.randomBytes(8).toString('hex');
  const client = createClient(server.url, server.anonKey, {
    auth: { persistSession: false },
    realtime: { transport: WebSocket as unknown as never },
    global: { headers: { traceparent: `00-${traceId}-${callerSpan}-01` } },
  });
  const { data, error } = await client.from('notes').select('body');
  expect(error).toBeNull();
  expect(data).toEqual([{ body: 'traced' }]);

  const traced = await spansOf(traceId, 2);
  const request = traced.find((s) => s.kind === 2);
  expect(request).toBeDefined();
  expect(request?.parentSpanId).toBe(callerSpan);
  expect(request?.name).toBe('GET /rest/v1/:relation');
  expect(attribute(request!, 'http.route')).toBe('/rest/v1/:relation');
  expect(attribute(request!, 'http.response.status_code')).toBe(200);
  const sql = traced.filter((s) => s.name === 'db.query');
  expect(sql.length).toBeGreaterThan(0);
  for (const s of sql) expect(s.parentSpanId).toBe(request?.spanId);
  expect(sql.some((s) => String(attribute(s, 'db.query.text')).includes('notes'))).toBe(true);
  expect(posts[0]).toMatch(/^POST \/v1\/traces application\/json/);

  const line = logged.find((l) => l.msg === 'request' && l.traceId === traceId);
  expect(line).toMatchObject({ route: '/rest/v1/:relation', status: 200 });
});

test('an edge function invocation is a span under its request, and the function sees it as traceparent', async () => {
  const traceId = crypto.randomBytes(16).toString('hex');
  const client = createClient(server.url, server.anonKey, {
    auth: { persistSession: false },
    realtime: { transport: WebSocket as unknown as never },
    global: { headers: { traceparent: `00-${traceId}-${crypto.randomBytes(8).toString('hex')}-01` } },
  });
  const { data, error } = await client.functions.invoke<{ hello: string; traceparent: string }>('hello');
  expect(error).toBeNull();
  expect(data?.hello).toBe('traced');
  const traced = await spansOf(traceId, 2);
  const request = traced.find((s) => s.kind === 2);
  const invocation = traced.find((s) => s.name === 'function.invoke');
  expect(invocation?.parentSpanId).toBe(request?.spanId);
  expect(attribute(invocation!, 'faas.name')).toBe('hello');
  expect(attribute(invocation!, 'http.response.status_code')).toBe(200);
  // Not the caller's own traceparent: the invocation's span, so the function's calls hang under it.
  expect(data?.traceparent).toBe(`00-${traceId}-${invocation?.spanId}-01`);
});

test("a realtime socket's join and broadcast are spans of their own traces; the fan-out is the broadcast's child", async () => {
  const options = { auth: { persistSession: false }, realtime: { transport: WebSocket as unknown as never } };
  const client = createClient(server.url, server.anonKey, options);
  const listener = createClient(server.url, server.anonKey, options);
  const heard: unknown[] = [];
  await subscribed(listener.channel('room-traced').on('broadcast', { event: 'hello' }, (m) => heard.push(m)));
  const channel = await subscribed(client.channel('room-traced'));
  expect(await channel.send({ type: 'broadcast', event: 'hello', payload: { n: 1 } })).toBe('ok');
  const named = async (name: string) => {
    for (let i = 0; i < 100; i++) {
      const span = spans.find(
        (s) => s.name === name && attribute(s, 'messaging.destination.name') === 'realtime:room-traced',
      );
      if (span) return span;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no ${name} span`);
  };
  const join = await named('realtime phx_join');
  const broadcast = await named('realtime broadcast');
  const fanout = await named('realtime.fanout');
  expect(join.parentSpanId ?? '').toBe('');
  expect(broadcast.traceId).not.toBe(join.traceId);
  expect(fanout.traceId).toBe(broadcast.traceId);
  expect(fanout.parentSpanId).toBe(broadcast.spanId);
  expect(attribute(fanout, 'trellis.realtime.recipients')).toBe(1);
  expect(attribute(fanout, 'messaging.message.type')).toBe('hello');
  expect(heard).toHaveLength(1);
  await client.removeAllChannels();
  await listener.removeAllChannels();
});

test('a postgres_changes transaction is a trace: its authorisation SQL under it, its deliveries counted', async () => {
  const client = createClient(server.url, server.anonKey, {
    auth: { persistSession: false },
    realtime: { transport: WebSocket as unknown as never },
  });
  const got: unknown[] = [];
  await subscribed(
    client
      .channel('notes-traced')
      .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'notes' }, (p) => got.push(p)),
  );
  await server.sql.query(`insert into public.notes values (2, 'changed')`);
  let change: OtlpSpan | undefined;
  for (let i = 0; i < 100 && !change; i++) {
    change = spans.find((s) => s.name === 'realtime postgres_changes');
    if (!change) await new Promise((r) => setTimeout(r, 100));
  }
  expect(change).toBeDefined();
  expect(change?.parentSpanId ?? '').toBe('');
  expect(attribute(change!, 'db.collection.name')).toBe('public.notes');
  expect(attribute(change!, 'trellis.realtime.changes')).toBe(1);
  expect(attribute(change!, 'trellis.realtime.deliveries')).toBe(1);
  expect(got).toHaveLength(1);
  const sql = spans.filter((s) => s.traceId === change?.traceId && s.name === 'db.query');
  expect(sql.length).toBeGreaterThan(0);
  for (const s of sql) expect(s.parentSpanId).toBe(change?.spanId);
  await client.removeAllChannels();
});

test.each([
  ['garbage', 'not-a-traceparent'],
  ['an all-zero trace id', `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`],
  ['of the forbidden version ff', `ff-${'a'.repeat(32)}-${'1'.repeat(16)}-01`],
  ['a thousand characters long', `00-${'a'.repeat(1000)}`],
])('a traceparent that is %s starts a new trace; the request is served', async (_what, traceparent) => {
  const before = logged.length;
  const res = await fetch(`${server.url}/rest/v1/notes?select=body`, {
    headers: { apikey: server.anonKey, traceparent },
  });
  expect(res.status).toBe(200);
  const line = logged.slice(before).find((l) => l.msg === 'request' && l.route === '/rest/v1/:relation');
  expect(line?.traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(String(line?.traceId)).not.toMatch(/^0+$/);
  expect(String(traceparent)).not.toContain(String(line?.traceId));
});
