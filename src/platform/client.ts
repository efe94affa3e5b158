/** Who is on the other end of a request: address (for rate limits, sessions) and user agent. */
import { headerOf } from './http.js';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

export interface ClientInfo {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

export function clientInfo(c: Context, trustProxy: boolean): ClientInfo {
  let ip: string | undefined;
  if (trustProxy) {
    // The proxy appends the address it saw; earlier entries are whatever the client claimed.
    ip = headerOf(c, 'x-forwarded-for')?.split(',').at(-1)?.trim() || undefined;
  }
  if (!ip) {
    try {
      ip = getConnInfo(c).remote.address;
    } catch {
      ip = undefined; // not served by @hono/node-server (app.request in tests)
    }
  }
  if (ip?.startsWith('::ffff:')) ip = ip.slice(7);
  if (ip && !/^[0-9a-fA-F:.]{2,45}$/.test(ip)) ip = undefined;
  return { ip, userAgent: headerOf(c, 'user-agent') };
}
