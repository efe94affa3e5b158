/**
 * One HTTP request of the queue, sent with fetch (undici) under the row's timeout: the whole
 * exchange, body included, must end within it. Redirects are not followed (the 3xx is the answer,
 * as with pg_net). The body read is bounded: past `maxResponseBytes` the rest is dropped.
 */
export interface NetRequest {
  /** bigint, as text */
  readonly id: string;
  readonly method: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | null;
  readonly timeoutMs: number;
}

export type SendOutcome =
  | {
      readonly kind: 'response';
      readonly status: number;
      readonly contentType: string | null;
      /** Lower-case names; repeated headers joined by ", " (set-cookie too). */
      readonly headers: Readonly<Record<string, string>>;
      readonly content: string;
      readonly truncated: boolean;
    }
  | { readonly kind: 'timeout'; readonly message: string }
  | { readonly kind: 'error'; readonly message: string }
  /** The sender is closing: the request is put back, not answered. */
  | { readonly kind: 'cancelled' };

export interface SendOptions {
  readonly maxResponseBytes: number;
  /** Aborts every request in flight (the sender's close). */
  readonly cancel: AbortSignal;
}

export async function sendRequest(
  request: NetRequest,
  headers: Readonly<Record<string, string>>,
  options: SendOptions,
): Promise<SendOutcome> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = AbortSignal.any([timeout, options.cancel]);
  const failed = (err: unknown): SendOutcome => {
    if (options.cancel.aborted) return { kind: 'cancelled' };
    if (timeout.aborted) return { kind: 'timeout', message: `Timeout of ${request.timeoutMs} ms reached` };
    return { kind: 'error', message: describeFetchError(err) };
  };
  let response: Response;
  try {
    response = await fetch(request.url, {
      method: request.method,
      // Headers are case-insensitive: a caller's User-Agent must replace ours, not join it.
      headers: Object.keys(headers).some((h) => h.toLowerCase() === 'user-agent')
        ? headers
        : { 'user-agent': 'trellis-net', ...headers },
      body: request.body ? new Uint8Array(request.body) : undefined,
      redirect: 'manual',
      signal,
    });
  } catch (err) {
    return failed(err);
  }
  try {
    const { text, truncated } = await readBounded(response, options.maxResponseBytes);
    return {
      kind: 'response',
      status: response.status,
      contentType: response.headers.get('content-type'),
      headers: headerRecord(response.headers),
      content: text,
      truncated,
    };
  } catch (err) {
    return failed(err);
  }
}

/** The body as text (UTF-8, invalid bytes replaced; NUL, which text columns refuse, replaced too). */
async function readBounded(response: Response, maxBytes: number): Promise<{ text: string; truncated: boolean }> {
  if (!response.body) return { text: '', truncated: false };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const room = maxBytes - size;
    if (value.byteLength > room) {
      chunks.push(value.subarray(0, room));
      size += room;
      truncated = true;
      await reader.cancel().catch(() => undefined);
      break;
    }
    chunks.push(value);
    size += value.byteLength;
  }
  const text = new TextDecoder('utf-8').decode(Buffer.concat(chunks, size));
  return { text: text.replaceAll('\u0000', '\ufffd'), truncated };
}

function headerRecord(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of headers) out[name] = name in out ? `${out[name]}, ${value}` : value;
  return out;
}

/** undici says "fetch failed" and puts the reason (ECONNREFUSED, ENOTFOUND, …) in `cause`. */
function describeFetchError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause;
  if (cause instanceof Error && cause.message) return cause.message;
  return err.message;
}
