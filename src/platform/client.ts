/** Who is on the other end of a request: address (for rate limits, sessions) and user agent. */
import { headerOf } from './http.js';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context } from 'hono';

export interface ClientInfo {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

export function clientInfo(c: Context, trustProxy: boolean): ClientInfo {
  const remote = () => {
    try {
      return getConnInfo(c).remote.address;
    } catch {
      return undefined; // not served by @hono/node-server (app.request in tests)
    }
  };
  return { ip: clientIp(headerOf(c, 'x-forwarded-for'), remote, trustProxy), userAgent: headerOf(c, 'user-agent') };
}

/**
 * The client's address from the X-Forwarded-For header (only when trusted), else the socket's
 * peer (asked only then): the one rule HTTP requests and realtime sockets share.
 */
export function clientIp(
  forwardedFor: string | undefined,
  remote: () => string | undefined,
  trustProxy: boolean,
): string | undefined {
  let ip: string | undefined;
  if (trustProxy) {
    // The proxy appends the address it saw; earlier entries are whatever the client claimed.
    ip = forwardedFor?.split(',').at(-1)?.trim() || undefined;
  }
  if (!ip) ip = remote();
  if (ip?.startsWith('::ffff:')) ip = ip.slice(7);
  if (ip && !/^[0-9a-fA-F:.]{2,45}$/.test(ip)) ip = undefined;
  return ip;
}
