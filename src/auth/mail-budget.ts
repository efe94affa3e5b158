/**
 * The budgets an auth mail is counted against, in this order:
 *
 * 1. the client address: AUTH_RATE_LIMIT_EMAIL_PER_IP per hour (not for the service role). First,
 *    so that a client over its own budget spends nobody else's;
 * 2. the recipient: one mail per AUTH_EMAIL_MAX_FREQUENCY seconds, and
 *    AUTH_RATE_LIMIT_EMAIL_PER_ADDRESS per hour, so one inbox cannot be flooded;
 * 3. the server: AUTH_RATE_LIMIT_EMAIL_SENT per hour, of which AUTH_EMAIL_RESERVE_PERCENT only
 *    recovery and sign-in mails to confirmed users may use. Last, so a request refused by (1) or (2)
 *    spends nothing of it, and anonymous requests for new addresses cannot spend what existing
 *    users need to get back into their accounts.
 *
 * GoTrue has (2)'s interval and (3) without the reserve; every refusal here uses its answer, 429
 * `over_email_send_rate_limit`. Counters live in the RateLimiter (Redis when REDIS_URL is set).
 */
import type { AuthContext } from './context.js';
import { errors } from './errors.js';
import type { AuthLimits } from './limits.js';

/** Who asks for a mail: a client (by its address), or a caller holding the service role key. */
export type MailRequester = { readonly ip: string | undefined } | 'service_role';

export interface MailCharge {
  /** The address the mail goes to, normalised. */
  readonly email: string;
  readonly requester: MailRequester;
  /** A recovery or sign-in mail to a confirmed user: it may use the reserved part of the budget. */
  readonly reserved: boolean;
}

/** Throws 429 `over_email_send_rate_limit` when any budget of the mail is spent. */
export async function chargeMailBudgets(ctx: AuthContext, limits: AuthLimits, charge: MailCharge): Promise<void> {
  if (charge.requester !== 'service_role')
    await ctx.limit(limits.emailPerIp, charge.requester.ip, errors.emailRateLimited);
  const interval = limits.emailPerAddress;
  if (interval) await ctx.limit(interval, charge.email, () => errors.emailTooFrequent(interval.durationS));
  await ctx.limit(limits.emailPerAddressHourly, charge.email, errors.emailRateLimited);
  if (!charge.reserved) {
    if (limits.emailSentUnreserved.points === 0) throw errors.emailRateLimited();
    await ctx.limit(limits.emailSentUnreserved, 'server', errors.emailRateLimited);
  }
  await ctx.limit(limits.emailSent, 'server', errors.emailRateLimited);
}
