/**
 * /functions/v1/<name>[/…]: the project's supabase/functions/<name>/index.ts served as Supabase
 * serves edge functions, every method and sub-path, each function in its own worker
 * (docs/functions.md). The gateway's part is here: verify_jwt, the body limit, the rate limit.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { Hono, type Context } from 'hono';
import { apiRateLimit } from '../platform/api-limits.js';
import { clientInfo } from '../platform/client.js';
import { corsHeaders, headerOf } from '../platform/http.js';
import type { KeyEnv } from '../platform/keys.js';
import { bearerToken } from '../platform/tokens.js';
import { functionSecretsFile } from '../project/function-secrets.js';
import type { Services } from '../services.js';
import { functionEnv } from './env.js';
import { NOT_FOUND, edgeError, failureError, failureReason } from './failures.js';
import { functionMetrics } from './metrics.js';
import { parseFunctionPath } from './names.js';
import { FunctionRuntime } from './runtime.js';
import { endSpan, startChildSpan, traceparentOf, type Span } from '../platform/tracing.js';

export { nameProblem, parseFunctionPath } from './names.js';
export { npmSpecifier } from './bundle.js';

export interface FunctionsModule {
  readonly routes: Hono<KeyEnv>;
  close(): Promise<void>;
}

const PREFIX = '/functions/v1';
/** Hop-by-hop headers: the connection's, not the message's. */
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

export function functionsModule(services: Services, dbUrl: string): FunctionsModule {
  const { config, log, tokens } = services;
  const settings = config.functions;
  const runtime = new FunctionRuntime({
    functionsDir: settings.dir,
    outDir: path.join(config.dataDir, 'functions'),
    cpuLimitMs: settings.cpuLimitMs,
    memoryLimitMb: settings.memoryLimitMb,
    wallLimitS: settings.wallLimitS,
    maxConcurrency: settings.maxConcurrency,
    maxBodyBytes: settings.maxBodyBytes,
    idleTimeoutS: settings.idleTimeoutS,
    watch: settings.watch,
    env: () =>
      functionEnv(
        {
          url: config.publicUrl,
          anonKey: services.keys.anonKey,
          serviceRoleKey: services.keys.serviceRoleKey,
          dbUrl,
        },
        path.join(settings.dir, '.env'),
        config.dataDir,
      ),
    envFiles: [functionSecretsFile(config.dataDir), path.join(settings.dir, '.env')],
    log,
  });
  const metrics = functionMetrics(services.metrics.registry);
  const app = new Hono<KeyEnv>();
  const rateLimit = apiRateLimit(services, 'functions');
  if (rateLimit) app.use('*', rateLimit);

  // A pattern, not '*': the request metrics label calls by this route, never by raw path.
  app.all('/:path{.*}', async (c) => {
    const started = process.hrtime.bigint();
    const url = new URL(c.req.url);
    const parsed = parseFunctionPath(url.pathname.slice(url.pathname.indexOf(PREFIX) + PREFIX.length));
    if (!parsed.ok) throw edgeError(400, 'INVALID_FUNCTION_NAME', parsed.message);
    const { name } = parsed;
    const own = settings.settings[name];
    if (own && !own.enabled) throw NOT_FOUND();
    if (own?.verifyJwt !== false) await verifyJwt(c, tokens);
    const length = Number(headerOf(c, 'content-length') ?? '0');
    if (length > settings.maxBodyBytes) throw failureError({ kind: 'too-large', limit: settings.maxBodyBytes });
    const method = c.req.method;
    const hasBody =
      method !== 'GET' && method !== 'HEAD' && (length > 0 || headerOf(c, 'transfer-encoding') !== undefined);
    const remote = clientInfo(c, config.trustProxy).ip ?? '127.0.0.1';
    // Ends with the body (a stream may outlive the handler), as the log line does.
    const span = startChildSpan('function.invoke', { 'faas.name': name });
    const outcome = await runtime.call(
      name,
      // The function sees its own name first in the path, as on Supabase (`/hello/users/1?x=1`).
      {
        method,
        url: `${url.origin}/${name}${parsed.rest}${url.search}`,
        headers: withTraceparent(requestHeaders(c), span),
        body: hasBody ? c.req.raw.body : null,
      },
      { hostname: remote, port: 0 },
      clientGone(c),
    );
    const record = (status: number, cpuMs: number) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeCall(name, status, seconds, cpuMs / 1000);
      endSpan(span, status, { 'trellis.function.cpu_ms': cpuMs });
      log.info(
        {
          reqId: c.get('requestId'),
          function: name,
          status,
          ms: Math.round(seconds * 1e4) / 10,
          cpuMs: Math.round(cpuMs * 10) / 10,
        },
        'function invocation',
      );
    };
    if (outcome.kind === 'failure') {
      const reason = failureReason(outcome.failure);
      if (reason) metrics.countWorkerEnd(name, reason);
      const error = failureError(outcome.failure);
      record(error.status, 0);
      throw error;
    }
    const { response, done } = outcome;
    void done.then((stats) => {
      if (stats.coldStartMs !== undefined) metrics.observeColdStart(name, stats.coldStartMs / 1000);
      record(response.status, stats.cpuMs);
    });
    for (const key of [...response.headers.keys()]) if (HOP.has(key)) response.headers.delete(key);
    // What the middleware set with c.header() reaches only responses Hono builds itself: a
    // returned Response gets the gateway's headers here (the function's own CORS headers win).
    const gateway: Record<string, string> = {
      ...corsHeaders(c),
      ...(c.get('rateLimitHeaders') ?? {}),
      'x-request-id': c.get('requestId'),
    };
    for (const [key, value] of Object.entries(gateway))
      if (!response.headers.has(key)) response.headers.set(key, value);
    return response;
  });

  return { routes: app, close: () => runtime.close() };
}

/**
 * The request's headers without the hop-by-hop ones. Read from Node's IncomingMessage when served
 * by @hono/node-server: asking the lightweight Request for its Headers (or its signal) builds a
 * full WHATWG Request, a cost every call would pay.
 */
/** With tracing on, the function sees its invocation's span as `traceparent`, so what it calls out to joins the trace. */
function withTraceparent(headers: [string, string][], span: Span | undefined): [string, string][] {
  const traceparent = span && traceparentOf(span);
  if (traceparent === undefined) return headers;
  return [...headers.filter(([key]) => key !== 'traceparent' && key !== 'tracestate'), ['traceparent', traceparent]];
}

function requestHeaders(c: Context): [string, string][] {
  const headers: [string, string][] = [];
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) {
    const raw = incoming.rawHeaders;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const key = (raw[i] as string).toLowerCase();
      if (!HOP.has(key)) headers.push([key, raw[i + 1] as string]);
    }
    return headers;
  }
  c.req.raw.headers.forEach((value, key) => {
    if (!HOP.has(key)) headers.push([key, value]);
  });
  return headers;
}

/** Aborts when the client goes away before the response is finished. */
function clientGone(c: Context): AbortSignal {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing) return c.req.raw.signal;
  const gone = new AbortController();
  outgoing.once('close', () => {
    if (!outgoing.writableFinished) gone.abort(new Error('the client went away'));
  });
  return gone.signal;
}

/**
 * verify_jwt, as Supabase's gateway does it for functions: a Bearer token signed with the project's
 * keys (the anon key is one), unexpired. Which user it names is the function's business.
 */
async function verifyJwt(c: Context, tokens: Services['tokens']): Promise<void> {
  const header = headerOf(c, 'authorization');
  if (header === undefined || header === '')
    throw edgeError(401, 'UNAUTHORIZED_NO_AUTH_HEADER', 'Missing authorization header');
  const token = bearerToken(header);
  if (token === undefined)
    throw edgeError(
      401,
      'UNAUTHORIZED_INVALID_JWT_FORMAT',
      "Invalid JWT: the Authorization header is not 'Bearer <token>'",
    );
  const check = await tokens.checkBearer(token);
  if (!check.ok) {
    const why = check.problem.kind === 'expired' ? 'it has expired' : check.problem.kind.replace(/_/g, ' ');
    throw edgeError(401, 'UNAUTHORIZED_INVALID_JWT', `Invalid JWT: ${why}`);
  }
}
