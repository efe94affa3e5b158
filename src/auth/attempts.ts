/**
 * Wrong passwords per account, whatever the client address: the per-IP limit alone let 80 guesses
 * from 80 addresses all be evaluated. Counted in PostgreSQL (trellis.auth_password_failures), so
 * every instance shares the count, and keyed by email address whether or not it is registered:
 * an unknown address is limited the same way, so the 429 reveals nothing.
 *
 * An attempt takes its point before the password is checked (so that concurrent guesses cannot
 * all slip past the check) and gives it back when the password was right. Once the account is
 * over the limit, nothing is evaluated until the window ends, the right password included:
 * were a right one still let in, guessing would go on at the per-IP rate, and the limit would
 * bound nothing.
 *
 * GoTrue has no built-in per-account limit (its password-verification hook can add one and then
 * answers 400 invalid_credentials); Trellis answers as GoTrue's own limits do, 429
 * `over_request_rate_limit`, which clients already treat as "try again later", and never as
 * "wrong password" for a right one.
 */
import type { Tx } from '../db/index.js';
import { errors } from './errors.js';
import type { AuthLimits } from './limits.js';

export interface PasswordAttempt {
  /** Throws 429 when the account was over its limit: nothing may be evaluated. */
  check(): void;
  /** Gives the attempt's point back: the password was right. */
  succeeded(tx: Tx): Promise<void>;
}

/**
 * Takes one point for a password sign-in to `email`, in the caller's transaction (the sign-in's
 * lookup of the user rides in the same round trip). The caller commits, then calls `check`, which
 * throws 429 when the account is over its limit: the point is counted even then.
 */
export async function beginPasswordAttempt(tx: Tx, limits: AuthLimits, email: string): Promise<PasswordAttempt> {
  const { max, windowS } = limits.passwordFailures;
  const result = await tx.query<{ failures: number; retry_after: number }>(
    `insert into trellis.auth_password_failures as f (email, failures, window_ends_at)
     values ($1, 1, now() + make_interval(secs => $2))
     on conflict (email) do update set
       failures = case when f.window_ends_at <= now() then 1 else f.failures + 1 end,
       window_ends_at = case when f.window_ends_at <= now() then excluded.window_ends_at else f.window_ends_at end
     returning failures, ceil(extract(epoch from window_ends_at - now()))::int as retry_after`,
    [email, windowS],
  );
  // Rows of windows long gone would pile up (every address ever tried); a few are swept now and then.
  if (Math.random() < 0.02) {
    await tx.query(
      `delete from trellis.auth_password_failures where email in
         (select email from trellis.auth_password_failures where window_ends_at < now()
          order by window_ends_at limit 1000 for update skip locked)`,
    );
  }
  const counted = result.rows[0] ?? { failures: 1, retry_after: windowS };
  return {
    check() {
      if (counted.failures > max) throw errors.accountLocked(counted.retry_after);
    },
    async succeeded(tx) {
      await tx.query(
        'update trellis.auth_password_failures set failures = greatest(failures - 1, 0) where email = $1',
        [email],
      );
    },
  };
}
