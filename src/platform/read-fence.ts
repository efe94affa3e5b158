/**
 * Read-your-writes with read replicas. A write answers the primary's LSN after its COMMIT in the
 * `x-trellis-lsn` header and the `trellis-lsn` cookie, and this process remembers it for the caller
 * (the JWT's `sub`, else its role: the anon or service_role key). A later read's fence is the
 * highest of the header the client sends back, the cookie and the remembered one; the read goes to
 * a replica only once that replica has replayed the fence (src/db/replicas.ts). So supabase-js
 * works unchanged on one instance; across instances a client passes the header back (docs/deploy/replicas.md).
 */
import type { Context } from 'hono';
import { formatLsn, parseLsn, type Claims, type Lsn, type TxOptions } from '../db/index.js';
import type { ApiError } from '../errors.js';
import { headerOf } from './http.js';

export const LSN_HEADER = 'x-trellis-lsn';
export const LSN_COOKIE = 'trellis-lsn';

export interface ReadFences {
  /** True with DATABASE_READ_URL: reads may go to replicas, writes report their LSN. */
  readonly enabled: boolean;
  /**
   * The options of a read a replica may serve: the caller's fence; `{}` (the primary) without
   * replicas. A malformed `x-trellis-lsn` header is refused with `refuse(message)`.
   */
  readOptions(c: Context, claims: Claims, refuse: (message: string) => ApiError): Pick<TxOptions, 'replica'>;
  /** What a write passes as `onCommitLsn`: notes the LSN for the caller and on the response. */
  onWrite(c: Context, claims: Claims): TxOptions['onCommitLsn'];
}

export interface ReadFenceOptions {
  readonly enabled: boolean;
  /** How long a caller's last write fences its reads (past it, a healthy replica has replayed it). */
  readonly ttlMs: number;
  /** Callers remembered at most; the oldest is forgotten first. */
  readonly maxCallers?: number;
}

export function createReadFences(options: ReadFenceOptions): ReadFences {
  const maxCallers = options.maxCallers ?? 100_000;
  const last = new Map<string, { lsn: Lsn; until: number }>();
  const callerOf = (claims: Claims) => (typeof claims.sub === 'string' ? `sub:${claims.sub}` : `role:${claims.role}`);
  return {
    enabled: options.enabled,
    readOptions(c, claims, refuse) {
      if (!options.enabled) return {};
      let fence: Lsn | undefined;
      const raise = (lsn: Lsn | undefined) => {
        if (lsn !== undefined && (fence === undefined || lsn > fence)) fence = lsn;
      };
      const sent = headerOf(c, LSN_HEADER);
      if (sent !== undefined) {
        const lsn = sent.length <= 17 ? parseLsn(sent) : undefined;
        if (lsn === undefined) throw refuse(`${LSN_HEADER} must be an LSN as a write answered it, like 0/16B3748`);
        raise(lsn);
      }
      // A cookie the client cannot easily fix is ignored when malformed rather than refused.
      const cookie = cookieValue(headerOf(c, 'cookie'), LSN_COOKIE);
      if (cookie !== undefined && cookie.length <= 17) raise(parseLsn(cookie));
      const key = callerOf(claims);
      const noted = last.get(key);
      if (noted && noted.until > Date.now()) raise(noted.lsn);
      else if (noted) last.delete(key);
      return { replica: { fence } };
    },
    onWrite(c, claims) {
      if (!options.enabled) return undefined;
      return (lsn) => {
        const key = callerOf(claims);
        const noted = last.get(key);
        last.delete(key);
        last.set(key, { lsn: noted && noted.lsn > lsn ? noted.lsn : lsn, until: Date.now() + options.ttlMs });
        if (last.size > maxCallers) last.delete(last.keys().next().value as string);
        const text = formatLsn(lsn);
        c.header(LSN_HEADER, text);
        c.header(
          'set-cookie',
          `${LSN_COOKIE}=${text}; Path=/; Max-Age=${Math.ceil(options.ttlMs / 1000)}; HttpOnly; SameSite=Lax`,
          { append: true },
        );
      };
    },
  };
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
  }
  return undefined;
}
