/**
 * OpenTelemetry tracing (docs/observability.md). The W3C `traceparent` a client sends is always
 * read, so a request's log line carries its trace id; spans are recorded and exported over OTLP
 * (HTTP, JSON) only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without it the API's no-op tracer
 * answers and the SDK is never loaded. Spans: one per HTTP request (platform/http.ts), one per SQL
 * statement (db/pool.ts, db/claims.ts) and per edge function invocation (functions/index.ts),
 * children of the request's; one per realtime message (realtime/connection.ts) and per
 * postgres_changes transaction (realtime/changes), traces of their own; one per broadcast fan-out
 * (realtime/hub.ts), a child of the message that sent it, on every instance that delivers it.
 */
import {
  context,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  ROOT_CONTEXT,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { errorMessage } from '../errors.js';
import type { Logger } from './logger.js';

export type { Span };

export interface TracingSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL (traces go to `<it>/v1/traces`). */
  readonly endpoint: string | undefined;
  /** OTEL_SERVICE_NAME. */
  readonly serviceName: string;
  /** OTEL_EXPORTER_OTLP_PROTOCOL. */
  readonly protocol: 'http/protobuf' | 'http/json';
  /** OTEL_EXPORTER_OTLP_HEADERS, parsed. */
  readonly headers: Readonly<Record<string, string>>;
  /** OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG. */
  readonly sampler: Sampling;
  readonly samplerRatio: number;
  /** OTEL_BSP_SCHEDULE_DELAY: milliseconds between two exports. */
  readonly exportDelayMs: number;
}

export interface Tracing {
  /** Sends what is buffered and stops exporting. */
  close(): Promise<void>;
}

export type Sampling =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

const TRACER = 'trellis';
/** Whether spans are recorded (startTracing ran): root spans are made only then. */
let recording = false;

// traceparent is understood whether or not spans are exported: it costs little and gives the log
// lines their trace ids. The context manager (the active span following awaits, for SQL spans) is
// set only with tracing on: AsyncLocalStorage's promise hooks would tax every request otherwise.
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

export async function startTracing(settings: TracingSettings, log: Logger): Promise<Tracing | undefined> {
  if (settings.endpoint === undefined) return undefined;
  const [sdk, { OTLPTraceExporter }, { resourceFromAttributes }, { AsyncLocalStorageContextManager }] =
    await Promise.all([
      import('@opentelemetry/sdk-trace'),
      settings.protocol === 'http/json'
        ? import('@opentelemetry/exporter-trace-otlp-http')
        : import('@opentelemetry/exporter-trace-otlp-proto'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/context-async-hooks'),
    ]);
  const { TracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler } = sdk;
  const own = settings.sampler.replace('parentbased_', '');
  const root =
    own === 'always_off'
      ? new sdk.AlwaysOffSampler()
      : own === 'traceidratio'
        ? new TraceIdRatioBasedSampler(settings.samplerRatio)
        : new sdk.AlwaysOnSampler();
  const url = `${settings.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    sampler: settings.sampler.startsWith('parentbased_') ? new ParentBasedSampler({ root }) : root,
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url, headers: { ...settings.headers } }),
        scheduledDelayMillis: settings.exportDelayMs,
      }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  recording = true;
  log.info({ url, protocol: settings.protocol, sampler: settings.sampler }, 'tracing: spans are exported over OTLP');
  return {
    async close() {
      recording = false;
      await provider.shutdown();
      trace.disable();
      context.disable();
    },
  };
}

const headerGetter: TextMapGetter<(name: string) => string | undefined> = {
  get: (read, key) => read(key),
  keys: () => ['traceparent', 'tracestate'],
};

/** A server span for one request, child of the caller's `traceparent` if it sent one. */
export function startRequestSpan(
  method: string,
  header: (name: string) => string | undefined,
): { readonly span: Span; readonly context: Context } {
  const parent = propagation.extract(ROOT_CONTEXT, header, headerGetter);
  const span = trace
    .getTracer(TRACER)
    .startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } }, parent);
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a request's span, named after its route (`GET /rest/v1/:table`), never its raw path. */
export function endRequestSpan(span: Span, method: string, route: string, status: number): void {
  span.updateName(`${method} ${route}`);
  endSpan(span, status, { 'http.route': route });
}

/** The trace id of the request being served, if its span has one (a traceparent, or tracing on). */
export function currentTraceId(span: Span): string | undefined {
  const { traceId } = span.spanContext();
  return /^0+$/.test(traceId) ? undefined : traceId;
}

/** Runs `fn` inside `ctx` (the request's span active), so the spans it starts are its children. */
export const withContext = <T>(ctx: Context, fn: () => T): T => context.with(ctx, fn);

/**
 * A span of this server's own work within the active one (an edge function's invocation), for the
 * caller to end; undefined with tracing off or outside a request.
 */
export function startChildSpan(name: string, attributes: Attributes, kind = SpanKind.INTERNAL): Span | undefined {
  // No request span, or one that records nothing (tracing off): no span of our own either.
  if (!trace.getActiveSpan()?.isRecording()) return undefined;
  return trace.getTracer(TRACER).startSpan(name, { kind, attributes });
}

/** A client span around one database statement, child of whatever span is active. */
export async function inSqlSpan<T>(text: string, fn: () => Promise<T>): Promise<T> {
  const span = startChildSpan(
    'db.query',
    { 'db.system.name': 'postgresql', 'db.query.text': text.slice(0, 2000) },
    SpanKind.CLIENT,
  );
  if (!span) return fn();
  try {
    return await fn();
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Work that no request carries (a realtime socket's message, a postgres_changes transaction) in a
 * trace of its own, for the caller to `run` work in (the SQL it does becomes its children) and to
 * `end`; undefined with tracing off (`describe`, the span's name and attributes, is not even called:
 * a hot path allocates nothing for it).
 */
export function startRootSpan(describe: () => readonly [name: string, attributes: Attributes]): RootSpan | undefined {
  if (!recording) return undefined;
  const [name, attributes] = describe();
  const span = trace.getTracer(TRACER).startSpan(name, { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT);
  const active = trace.setSpan(ROOT_CONTEXT, span);
  return {
    run: (fn) => context.with(active, fn),
    end(attributes = {}, err?: unknown) {
      span.setAttributes(attributes);
      if (err !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
      span.end();
    },
  };
}

export interface RootSpan {
  run<T>(fn: () => T): T;
  end(attributes?: Attributes, err?: unknown): void;
}

/** `fn` in a root span of its own (startRootSpan), ended when it settles; just `fn` with tracing off. */
export async function inRootSpan<T>(
  describe: () => readonly [name: string, attributes: Attributes],
  fn: () => Promise<T>,
): Promise<T> {
  const root = startRootSpan(describe);
  if (!root) return fn();
  try {
    const out = await root.run(fn);
    root.end();
    return out;
  } catch (err) {
    root.end({}, err);
    throw err;
  }
}

/**
 * Synchronous work (a broadcast's fan-out) as a span: a child of `parent` (a traceparent another
 * instance sent with the message) or else of the active span, with the attributes `describe` makes
 * of `fn`'s result. Just `fn` when nothing records above it (tracing off: nothing is allocated).
 */
export function inSyncSpan<T>(
  name: string,
  parent: string | undefined,
  fn: () => T,
  describe: (result: T) => Attributes,
): T {
  if (!recording) return fn();
  const under = parent === undefined ? context.active() : propagation.extract(ROOT_CONTEXT, parent, traceparentGetter);
  // Under a span that records, or another instance's sampled one; never a trace of its own.
  const above = trace.getSpan(under);
  if (!above || !(above.isRecording() || above.spanContext().traceFlags & TraceFlags.SAMPLED)) return fn();
  const span = trace.getTracer(TRACER).startSpan(name, { kind: SpanKind.CONSUMER }, under);
  try {
    const result = fn();
    span.setAttributes(describe(result));
    return result;
  } finally {
    span.end();
  }
}

/** The active span's W3C traceparent, to carry to other instances with a message; undefined unless recording. */
export function activeTraceparent(): string | undefined {
  if (!recording) return undefined;
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return undefined;
  return traceparentOf(span);
}

/** A span's W3C traceparent (`00-<trace id>-<span id>-<flags>`). */
export function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

const traceparentGetter: TextMapGetter<string> = {
  get: (value, key) => (key === 'traceparent' ? value : undefined),
  keys: () => ['traceparent'],
};

/** Ends a span with the status its work answered (5xx: an error). */
export function endSpan(span: Span | undefined, status: number, attributes: Attributes = {}): void {
  if (!span) return;
  span.setAttributes({ 'http.response.status_code': status, ...attributes });
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
