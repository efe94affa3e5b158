/**
 * Read-your-writes with read replicas. A write answers the primary's LSN after its COMMIT in the
 * `x-trellis-lsn` header and the `trellis-lsn` cookie, and the fence store remembers it for the
 * caller (the JWT's `sub`, else its role: the anon or service_role key). A later read's fence is
 * the highest of the header the client sends back, the cookie and the remembered one; the read
 * goes to a replica only once that replica has replayed the fence (src/db/replicas.ts). So
 * supabase-js works unchanged; see docs/deploy/replicas.md.
 */
import type { Context } from 'hono';
import { formatLsn, parseLsn, type Claims, type Lsn, type TxOptions } from '../../db/index.js';
import type { ApiError } from '../../errors.js';
import { headerOf } from '../http.js';
import type { FenceStore } from './store.js';

export const LSN_HEADER = 'x-trellis-lsn';
export const LSN_COOKIE = 'trellis-lsn';

export interface ReadFences {
  /** True with DATABASE_READ_URL: reads may go to replicas, writes report their LSN. */
  readonly enabled: boolean;
  /**
   * The options of a read a replica may serve: the caller's fence; `{}` (the primary) without
   * replicas. A malformed `x-trellis-lsn` header is refused with `refuse(message)`.
   */
  readOptions(c: Context, claims: Claims, refuse: (message: string) => ApiError): Promise<Pick<TxOptions, 'replica'>>;
  /** What a write passes as `onCommitLsn`: notes the LSN for the caller and on the response. */
  onWrite(c: Context, claims: Claims): TxOptions['onCommitLsn'];
}

/** The longest text of an LSN (`FFFFFFFF/FFFFFFFF`): anything longer is refused unread. */
const MAX_LSN_TEXT = 17;

export function createReadFences(options: {
  readonly enabled: boolean;
  /** How long a caller's last write fences its reads (past it, a healthy replica has replayed it). */
  readonly ttlMs: number;
  readonly store: FenceStore;
}): ReadFences {
  const { store, ttlMs } = options;
  const callerOf = (claims: Claims) => (typeof claims.sub === 'string' ? `sub:${claims.sub}` : `role:${claims.role}`);
  return {
    enabled: options.enabled,
    async readOptions(c, claims, refuse) {
      if (!options.enabled) return {};
      let fence: Lsn | undefined;
      const raise = (lsn: Lsn | undefined) => {
        if (lsn !== undefined && (fence === undefined || lsn > fence)) fence = lsn;
      };
      const sent = headerOf(c, LSN_HEADER);
      if (sent !== undefined) {
        const lsn = sent.length <= MAX_LSN_TEXT ? parseLsn(sent) : undefined;
        if (lsn === undefined) throw refuse(`${LSN_HEADER} must be an LSN as a write answered it, like 0/16B3748`);
        raise(lsn);
      }
      // A cookie the client cannot easily fix is ignored when malformed rather than refused.
      const cookie = cookieValue(headerOf(c, 'cookie'), LSN_COOKIE);
      if (cookie !== undefined && cookie.length <= MAX_LSN_TEXT) raise(parseLsn(cookie));
      raise(await store.get(callerOf(claims)));
      return { replica: { fence } };
    },
    onWrite(c, claims) {
      if (!options.enabled) return undefined;
      return async (lsn) => {
        const text = formatLsn(lsn);
        c.header(LSN_HEADER, text);
        c.header(
          'set-cookie',
          `${LSN_COOKIE}=${text}; Path=/; Max-Age=${Math.ceil(ttlMs / 1000)}; HttpOnly; SameSite=Lax`,
          {
            append: true,
          },
        );
        // Awaited before the response: the caller's next read, through any instance, finds it.
        await store.note(callerOf(claims), lsn, ttlMs);
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
