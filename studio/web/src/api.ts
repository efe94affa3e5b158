/** The dashboard's one way to the server: /studio/api with the session cookie (same origin). */
export class StudioError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export async function api<T = unknown>(method: Method, path: string, body?: unknown, raw?: Blob): Promise<T> {
  const headers: Record<string, string> = {};
  let payload: BodyInit | undefined;
  if (raw) {
    payload = raw;
    headers['content-type'] = raw.type || 'application/octet-stream';
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`/studio/api${path}`, { method, headers, body: payload, credentials: 'same-origin' });
  const text = await res.text();
  const parsed: unknown = text === '' ? null : JSON.parse(text);
  if (!res.ok) {
    const err = parsed as { message?: string; code?: string } | null;
    if (res.status === 401 && path !== '/session') window.dispatchEvent(new Event('studio:signed-out'));
    throw new StudioError(res.status, `${err?.code ? `${err.code}: ` : ''}${err?.message ?? res.statusText}`);
  }
  return parsed as T;
}

/** An outcome as a value, for the components to render: the data, or the error. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: Error };

export async function attempt<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err : new Error(String(err)) };
  }
}

export { cellText } from './derive.js';
