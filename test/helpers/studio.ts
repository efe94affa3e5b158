/** Calls to Studio's admin API (/studio/api) over real HTTP, as a script would: the service_role key unless told. */
import type { TestServer } from './server.js';

export interface StudioAnswer {
  readonly status: number;
  /** The parsed JSON (its shape is what the tests assert, so they read it loosely), or the text. */
  readonly body: any;
  readonly text: string;
}

export async function studioCall(
  server: TestServer,
  method: string,
  url: string,
  options: { body?: unknown; raw?: string; auth?: string } = {},
): Promise<StudioAnswer> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.auth ?? server.serviceRoleKey}` };
  const body = options.body !== undefined ? JSON.stringify(options.body) : options.raw;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}/studio/api${url}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: the text is the body
  }
  return { status: res.status, body: parsed, text };
}
