/** What every socket and channel of the realtime server shares. */
import type { Config } from '../config.js';
import type { Db } from '../db/index.js';
import type { Logger } from '../platform/logger.js';
import type { Tokens } from '../platform/tokens.js';
import type { ChangeHub } from './changes/contract.js';
import type { RealtimeHub } from './hub.js';
import type { MessageBudget } from './budget.js';
import type { TokenBucket } from './limits.js';
import type { RealtimeMetrics } from './metrics.js';

export interface ConnectionContext {
  readonly limits: Config['realtime'];
  readonly tokens: Tokens;
  readonly db: Db;
  readonly hub: RealtimeHub;
  readonly changes: ChangeHub;
  readonly metrics: RealtimeMetrics;
  readonly log: Logger;
  /** The instance-wide ("tenant") message budget. */
  readonly tenantRate: TokenBucket;
  /**
   * The budgets counted on the shared limiter (per user or address; the cluster's with Redis);
   * undefined when neither is configured, and `tenantRate` alone decides, synchronously.
   */
  readonly budget: MessageBudget | undefined;
  /** Counts a message refused by RATE_LIMIT_REALTIME on /metrics. */
  countRateLimited(): void;
}
