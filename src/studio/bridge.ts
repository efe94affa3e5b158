/**
 * Studio's auth and storage pages act through the same HTTP API a script would call with the
 * service_role key (/auth/v1/admin/*, /storage/v1/*), over loopback to this server's own port:
 * one implementation of each rule (ban durations, bucket limits, MIME checks), not a second copy.
 * (Loopback, not app.fetch: storage streams bodies through Node's request and response objects.)
 */
import { ApiError } from '../errors.js';

export interface Bridge {
  /** Calls `path` as the service role; answers the API's status and parsed JSON (or text). */
  call(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<{ status: number; body: unknown; headers: Headers }>;
  /** The raw response (a download). */
  raw(method: string, path: string): Promise<Response>;
}

/** `baseUrl`: where this process listens, as seen from itself (http://127.0.0.1:PORT). */
export function createBridge(baseUrl: string, serviceRoleKey: string): Bridge {
  const request = (method: string, path: string, body?: unknown, contentType?: string) => {
    const headers: Record<string, string> = {
      apikey: serviceRoleKey,
      authorization: `Bearer ${serviceRoleKey}`,
      'x-supabase-api-version': '2024-01-01',
    };
    let payload: BodyInit | undefined;
    if (body instanceof Uint8Array) {
      payload = body as Uint8Array<ArrayBuffer>;
      headers['content-type'] = contentType ?? 'application/octet-stream';
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers['content-type'] = 'application/json';
    }
    return fetch(new URL(path, baseUrl), { method, headers, body: payload });
  };
  return {
    async call(method, path, body, contentType) {
      const res = await request(method, path, body, contentType);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? null : (JSON.parse(text) as unknown);
      } catch {
        // Not JSON: handed on as text.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    raw: (method, path) => request(method, path),
  };
}

/** The API's answer when it succeeded; its own status and message as Studio's error otherwise. */
export function expectOk<T = unknown>(answer: { status: number; body: unknown }): T {
  if (answer.status < 400) return answer.body as T;
  const body = (answer.body ?? {}) as { message?: unknown; msg?: unknown; error?: unknown; code?: unknown };
  const text = [body.message, body.msg, body.error].find((m) => typeof m === 'string');
  const message = typeof text === 'string' ? text : `request failed (${answer.status})`;
  const code = typeof body.code === 'string' ? body.code : typeof body.error === 'string' ? body.error : 'api_error';
  throw new ApiError(answer.status, code, message);
}

/** A storage path's segments, each URL-encoded (names may hold spaces, '#', '?'). */
export const encodePath = (path: string): string => path.split('/').map(encodeURIComponent).join('/');
