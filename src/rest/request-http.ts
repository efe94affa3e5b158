/** The thin HTTP side of the request parser: reads a Hono Context into the plain `RestInput`. */
import type { IncomingMessage } from 'node:http';
import type { Context } from 'hono';
import { clientInfo } from '../platform/client.js';
import { headerOf } from '../platform/http.js';
import { ident, type RequestGucs } from '../db/index.js';
import type { RestInput } from './request.js';

/** The body is read only by the methods that carry one (and after the token was checked). */
export async function readRestInput(c: Context, kind: RestInput['target']['kind']): Promise<RestInput> {
  const method = c.req.method;
  return {
    method,
    target: { kind, name: (kind === 'function' ? c.req.param('fn') : c.req.param('relation')) ?? '' },
    search: new URL(c.req.url).searchParams,
    headers: {
      prefer: headerOf(c, 'prefer'),
      range: headerOf(c, 'range'),
      accept: headerOf(c, 'accept'),
      acceptProfile: headerOf(c, 'accept-profile'),
      contentProfile: headerOf(c, 'content-profile'),
    },
    body: method === 'POST' || method === 'PATCH' ? await c.req.text() : '',
  };
}

/**
 * PostgREST's request.* settings: `request.path` as PostgREST sees it behind Supabase's gateway
 * (`/messages`, `/rpc/fn`: without `/rest/v1`), headers and cookies as JSON objects by lower-case
 * name (the Headers object already lower-cases names and joins repeated ones).
 */
export function requestGucs(c: Context, searchPath: readonly string[], trustProxy: boolean): RequestGucs {
  // Without a prototype: a header or cookie named `__proto__` is a field like any other.
  const headers = Object.create(null) as Record<string, string>;
  // Node's own parsed headers (names lower-cased, repeats joined): building the fetch Request
  // (c.req.raw) for them would cost more than the rest of a read.
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) {
    for (const [name, value] of Object.entries(incoming.headers))
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  } else {
    c.req.raw.headers.forEach((value, name) => {
      headers[name] = value;
    });
  }
  const pathname = c.req.path;
  const path = pathname.startsWith('/rest/v1/') ? pathname.slice('/rest/v1'.length) : pathname;
  return {
    method: c.req.method,
    path,
    headers: JSON.stringify(headers),
    cookies: JSON.stringify(parseCookies(headers.cookie)),
    searchPath: searchPath.map((schema) => ident(schema)).join(', '),
    clientIp: clientInfo(c, trustProxy).ip ?? '',
  };
}

/** `a=1; b=2` as `{ a: '1', b: '2' }`; a malformed pair is skipped, the first of a repeated name kept. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const cookies = Object.create(null) as Record<string, string>;
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    if (name === '' || Object.hasOwn(cookies, name)) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    cookies[name] = value;
  }
  return cookies;
}
