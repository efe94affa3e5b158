/**
 * OpenTelemetry tracing (docs/observability.md). The W3C `traceparent` a client sends is always
 * read, so a request's log line carries its trace id; spans are recorded and exported over OTLP
 * (HTTP, JSON) only when OTEL_EXPORTER_OTLP_ENDPOINT is set. Without it the API's no-op tracer
 * answers and the SDK is never loaded. Spans: one per HTTP request (platform/http.ts), one per SQL
 * statement (db/pool.ts), children of the request's.
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
  log.info({ url }, 'tracing: spans are exported over OTLP');
  return {
    async close() {
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
  span.setAttributes({ 'http.route': route, 'http.response.status_code': status });
  if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
  span.end();
}

/** The trace id of the request being served, if its span has one (a traceparent, or tracing on). */
export function currentTraceId(span: Span): string | undefined {
  const { traceId } = span.spanContext();
  return /^0+$/.test(traceId) ? undefined : traceId;
}

/** Runs `fn` inside `ctx` (the request's span active), so the spans it starts are its children. */
export const withContext = <T>(ctx: Context, fn: () => T): T => context.with(ctx, fn);

/** A client span around one database statement, child of whatever span is active. */
export async function inSqlSpan<T>(text: string, fn: () => Promise<T>): Promise<T> {
  const active = trace.getActiveSpan();
  // No request span, or one that records nothing (tracing off): no span of our own either.
  if (!active?.isRecording()) return fn();
  const attributes: Attributes = { 'db.system.name': 'postgresql', 'db.query.text': text.slice(0, 2000) };
  const span = trace.getTracer(TRACER).startSpan('db.query', { kind: SpanKind.CLIENT, attributes });
  try {
    return await fn();
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    span.end();
  }
}
