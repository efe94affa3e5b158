/**
 * The message budgets counted on the shared RateLimiter: per user or client address
 * (RATE_LIMIT_REALTIME) and, with Redis, the whole cluster's messages per second
 * (REALTIME_MAX_TENANT_EVENTS_PER_SECOND), which without Redis stays this instance's token bucket.
 * The per-socket limit stays in the socket: a socket lives on one instance.
 */
import type { RateLimiter, RateLimitRule } from '../platform/limiter/index.js';
import type { TokenBucket } from './limits.js';

export type BudgetVerdict = 'ok' | 'tenant' | 'client';

export interface MessageBudget {
  /**
   * Spends one message of `key`'s budget (`user:<sub>` or `ip:<address>`; undefined for
   * service_role, which has none) and one of the cluster's.
   */
  take(key: string | undefined): Promise<BudgetVerdict>;
}

export interface MessageBudgetOptions {
  readonly limiter: RateLimiter;
  /** The cluster-wide rule, when counted in Redis; undefined: `localTenant` counts. */
  readonly tenant: RateLimitRule | undefined;
  /** Names this cluster's tenant counter, so projects sharing one Redis keep apart. */
  readonly tenantKey: string;
  readonly client: RateLimitRule | undefined;
  readonly localTenant: TokenBucket;
}

/** Undefined when nothing is counted on the limiter: the socket then stays on its synchronous path. */
export function createMessageBudget(o: MessageBudgetOptions): MessageBudget | undefined {
  const { limiter, tenant, client, localTenant } = o;
  if (tenant === undefined && client === undefined) return undefined;
  const allowed = async (rule: RateLimitRule, key: string): Promise<boolean> => {
    try {
      return (await limiter.consume(rule, key)).allowed;
    } catch {
      // The Redis limiter answers from memory while Redis is away; anything else failing must
      // not silence realtime, which had no shared limit before.
      return true;
    }
  };
  return {
    async take(key) {
      const [tenantOk, clientOk] = await Promise.all([
        tenant === undefined ? localTenant.take(Date.now()) : allowed(tenant, o.tenantKey),
        client === undefined || key === undefined ? true : allowed(client, key),
      ]);
      if (!tenantOk) return 'tenant';
      return clientOk ? 'ok' : 'client';
    },
  };
}
