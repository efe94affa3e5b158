/**
 * Runs inside a function's worker thread: the Deno-compatible globals Supabase's edge runtime gives
 * (Deno.serve, Deno.env, EdgeRuntime.waitUntil), the function's bundle imported once, and each
 * invocation turned from messages into a web Request and its Response back into messages. The
 * web platform (fetch, Request, Response, crypto, streams) is Node's own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';
import { WebSocket as NodeWebSocket } from 'ws';
import { receivedBody, SendWindow, type ReceivedBody } from './flow.js';
import type { FromWorker, ToWorker, WorkerBoot } from './protocol.js';

type Handler = (request: Request, info: ServeInfo) => unknown;
interface ServeInfo {
  readonly remoteAddr: { readonly transport: 'tcp'; readonly hostname: string; readonly port: number };
  readonly completed: Promise<void>;
}

const port = parentPort;
if (!port) throw new Error('worker-host.ts runs only in a worker thread');
const boot = workerData as WorkerBoot;
const post = (message: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(message, transfer ?? []);

let handler: Handler | undefined;
const serve = (first: unknown, second?: unknown) => {
  // Deno.serve(handler), Deno.serve(options, handler) and Deno.serve({ handler, … }).
  const options = typeof first === 'function' ? {} : ((first ?? {}) as { handler?: unknown; onListen?: unknown });
  const given = typeof first === 'function' ? first : (second ?? options.handler);
  if (typeof given !== 'function') throw new TypeError('Deno.serve needs a handler function');
  handler = given as Handler;
  const finished = new Promise<void>(() => undefined);
  return {
    finished,
    addr: { transport: 'tcp', hostname: '0.0.0.0', port: 0 },
    shutdown: async () => undefined,
    ref: () => undefined,
    unref: () => undefined,
  };
};

const env = {
  get: (key: string) => process.env[key],
  set: (key: string, value: string) => {
    process.env[key] = value;
  },
  delete: (key: string) => {
    delete process.env[key];
  },
  has: (key: string) => key in process.env,
  toObject: () => ({ ...process.env }) as Record<string, string>,
};

// Deno has a global WebSocket and Node 20 none; supabase-js's realtime client refuses to start
// under EdgeRuntime without one.
if (typeof globalThis.WebSocket === 'undefined') Object.assign(globalThis, { WebSocket: NodeWebSocket });

Object.assign(globalThis, {
  Deno: { serve, env, cwd: () => process.cwd(), pid: process.pid, version: { deno: '2.1.4-trellis' } },
  EdgeRuntime: {
    waitUntil: (promise: Promise<unknown>) => {
      // The work goes on after the answer: the worker stays up; a rejection is only logged.
      Promise.resolve(promise).catch((err: unknown) => console.error('EdgeRuntime.waitUntil:', err));
    },
  },
});

interface Call {
  readonly abort: AbortController;
  readonly body: ReceivedBody | null;
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  done: () => void;
  /** The response body's bytes in flight to the server's client. */
  readonly window: SendWindow;
}

/** A body up to this size that is complete at once goes with its head, in one message. */
const EARLY_BYTES = 256 * 1024;
const calls = new Map<number, Call>();

const LATER = Symbol('later');
/** Resolves after the microtasks queued now: a read that is not settled by then waits for I/O or a timer. */
const macrotask = () => new Promise<typeof LATER>((resolve) => setImmediate(() => resolve(LATER)));

const bytesOf = (value: unknown): Uint8Array =>
  value instanceof Uint8Array ? value : new TextEncoder().encode(String(value));

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function invoke(message: Extract<ToWorker, { t: 'req' }>): Promise<void> {
  const abort = new AbortController();
  let done = () => undefined as void;
  const completed = new Promise<void>((resolve) => (done = resolve));
  const { id } = message;
  const received = message.hasBody
    ? receivedBody(
        (taken) => post({ t: 'body-more', id, taken }),
        () => undefined,
      )
    : null;
  const call: Call = { abort, done, body: received, window: new SendWindow() };
  calls.set(id, call);
  const body = received?.stream ?? null;
  try {
    const request = new Request(message.url, {
      method: message.method,
      headers: message.headers as [string, string][],
      body,
      signal: abort.signal,
      ...(body ? { duplex: 'half' } : {}),
    });
    const info: ServeInfo = { remoteAddr: { transport: 'tcp', ...message.remote }, completed };
    let answer: unknown;
    try {
      answer = await (handler as Handler)(request, info);
    } catch (err) {
      console.error(err);
      post({ t: 'fail', id, kind: 'threw', message: describe(err) });
      return;
    }
    if (!(answer instanceof Response)) {
      const got =
        answer === null ? 'null' : typeof answer === 'object' ? (answer.constructor?.name ?? 'object') : typeof answer;
      post({ t: 'fail', id, kind: 'not-response', message: got });
      return;
    }
    const headers = [...answer.headers];
    if (answer.body === null) {
      post({ t: 'whole', id, status: answer.status, headers, body: null });
      return;
    }
    const reader = answer.body.getReader();
    call.reader = reader;
    // A body that is complete at once (a string, JSON) goes in one message with the head; one that
    // is still being written (a stream, SSE) sends its head now and its chunks as they come.
    const early: Uint8Array[] = [];
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
    // One turn of the event loop, and at most EARLY_BYTES: a body produced synchronously without
    // end (a pull that always enqueues) must not be read whole here.
    const turn = macrotask();
    let earlyBytes = 0;
    while (earlyBytes < EARLY_BYTES) {
      const next = reader.read();
      const got = await Promise.race([next, turn]);
      if (got === LATER) {
        pending = next;
        break;
      }
      if (got.done) {
        post({ t: 'whole', id, status: answer.status, headers, body: concat(early) });
        return;
      }
      const chunk = bytesOf(got.value);
      early.push(chunk);
      earlyBytes += chunk.byteLength;
    }
    post({ t: 'head', id, status: answer.status, headers, hasBody: true });
    const send = async (chunk: Uint8Array) => {
      // Backpressure: a fast body waits for a slow client rather than filling the server's memory.
      await call.window.room(chunk.byteLength, () => abort.signal.aborted);
      post({ t: 'chunk', id, chunk });
    };
    for (const chunk of early) await send(chunk);
    for (;;) {
      const { value, done: end } = await (pending ?? reader.read());
      pending = undefined;
      if (end) break;
      if (abort.signal.aborted) return;
      // Copied, not transferred: a chunk may be a view of a buffer the function keeps using.
      await send(bytesOf(value));
    }
    post({ t: 'end', id });
  } catch (err) {
    if (!abort.signal.aborted) post({ t: 'fail', id, kind: 'threw', message: describe(err) });
  } finally {
    calls.delete(id);
    done();
  }
}

port.on('message', (message: ToWorker) => {
  switch (message.t) {
    case 'req':
      void invoke(message);
      return;
    case 'body':
      calls.get(message.id)?.body?.push(message.chunk);
      return;
    case 'body-end':
      calls.get(message.id)?.body?.close();
      return;
    case 'cancel': {
      const call = calls.get(message.id);
      if (!call) return;
      call.abort.abort(new Error('the invocation was cancelled'));
      call.body?.error(new Error('the invocation was cancelled'));
      void call.reader?.cancel().catch(() => undefined);
      call.window.wake();
      calls.delete(message.id);
      return;
    }
    case 'more': {
      const call = calls.get(message.id);
      if (!call) return;
      call.window.took(message.taken);
      return;
    }
  }
});

try {
  const module = (await import(pathToFileURL(boot.bundlePath).href)) as { default?: { fetch?: unknown } };
  const exported = module.default?.fetch;
  if (!handler && typeof exported === 'function') {
    const target = module.default;
    handler = (request, info) => (exported as Handler).call(target, request, info);
  }
  if (!handler)
    post({
      t: 'boot-error',
      message: `${boot.name}/index.ts serves nothing: call Deno.serve(handler) or export default { fetch(req) { … } }`,
    });
  else post({ t: 'ready' });
} catch (err) {
  console.error(err);
  post({ t: 'boot-error', message: describe(err) });
}
