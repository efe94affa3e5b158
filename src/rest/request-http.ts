/** The thin HTTP side of the request parser: reads a Hono Context into the plain `RestInput`. */
import type { Context } from 'hono';
import { headerOf } from '../platform/http.js';
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
