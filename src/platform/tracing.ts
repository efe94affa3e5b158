/**
 * OpenTelemetry tracing (docs/observability.md). The W3C `traceparent` a client sends is always
 * read, so a request's log line carries its trace id; spans are recorded and exported over OTLP
 * (HTTP, JSON) only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without it the API's no-op tracer
 * answers and the SDK is never loaded. Spans: one per HTTP request (platform/http.ts), one per SQL
 * statement (db/pool.ts, db/claims.ts) and per edge function invocation (functions/index.ts),
 * children of the request's; one per realtime message (realtime/connection.ts), a trace of its own.
 */
import {
  context,
  propagation,
  trace,
  SpanKind,
  SpanStatusCode,
  ROOT_CONTEXT,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Logger } from './logger.js';

export interface TracingSettings {
  /** OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL (traces go to `<it>/v1/traces`). */
  readonly endpoint: string | undefined;
  /** OTEL_SERVICE_NAME. */
  readonly serviceName: string;
  /** OTEL_BSP_SCHEDULE_DELAY: milliseconds between two exports. */
  readonly exportDelayMs: number;
}

export interface Tracing {
  /** Sends what is buffered and stops exporting. */
  close(): Promise<void>;
}

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
      import('@opentelemetry/exporter-trace-otlp-http'),
      import('@opentelemetry/resources'),
      import('@opentelemetry/context-async-hooks'),
    ]);
  const { TracerProvider, BatchSpanProcessor } = sdk;
  const url = `${settings.endpoint.replace(/\/+$/, '')}/v1/traces`;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: new OTLPTraceExporter({ url }),
        scheduledDelayMillis: settings.exportDelayMs,
      }),
    ],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  recording = true;
  log.info({ url }, 'tracing: spans are exported over OTLP');
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
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/**
 * Work that no request carries (a realtime socket's message) in a trace of its own, active while
 * `fn` runs so the SQL it does is its children; just `fn` with tracing off (`describe`, the span's
 * name and attributes, is not even called: a hot path allocates nothing for it).
 */
export async function inRootSpan<T>(
  describe: () => readonly [name: string, attributes: Attributes],
  fn: () => Promise<T>,
): Promise<T> {
  if (!recording) return fn();
  const [name, attributes] = describe();
  const span = trace.getTracer(TRACER).startSpan(name, { kind: SpanKind.SERVER, attributes }, ROOT_CONTEXT);
  try {
    return await context.with(trace.setSpan(ROOT_CONTEXT, span), fn);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}

/** Ends a span with the status its work answered (5xx: an error). */
export function endSpan(span: Span | undefined, status: number, attributes: Attributes = {}): void {
  if (!span) return;
  span.setAttributes({ 'http.response.status_code': status, ...attributes });
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}
