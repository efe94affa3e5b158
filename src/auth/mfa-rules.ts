/**
 * The checks every new MFA factor passes, whatever its type (GoTrue's validateFactors, and the
 * requireNotAnonymous in front of its /factors routes). TOTP (mfa.ts), phone (mfa-phone.ts) and
 * WebAuthn (mfa-webauthn.ts) enrolments call this within their transaction.
 */
import type { Tx } from '../db/index.js';
import type { AuthContext, Caller } from './context.js';
import { errors } from './errors.js';

/** GoTrue's MFA_MAX_VERIFIED_FACTORS, fixed; [auth.mfa] max_enrolled_factors bounds all factors. */
export const MAX_VERIFIED_FACTORS = 10;
/** GoTrue's MFA_FACTOR_EXPIRY_DURATION floor: an unverified factor never challenged goes after it. */
const FACTOR_EXPIRY_S = 300;

/** The unverified factors a new one replaces: those of its type (for a phone, of its number). */
export interface Replaced {
  readonly type: 'totp' | 'phone' | 'webauthn';
  readonly phone?: string;
}

/**
 * Throws unless the caller may add a factor named `name`; then removes the unverified factors it
 * replaces (they count against nothing, but their names do clash, as on GoTrue).
 */
export async function checkNewFactor(
  ctx: AuthContext,
  tx: Tx,
  caller: Caller,
  name: string,
  replaced: Replaced,
): Promise<void> {
  const { user, session } = caller;
  if (user.is_anonymous) throw errors.anonymousNotAllowed();
  await tx.query(
    `delete from auth.mfa_factors f where f.user_id = $1 and f.status <> 'verified'
       and f.created_at < now() - make_interval(secs => $2)
       and not exists (select 1 from auth.mfa_challenges c where c.factor_id = f.id)`,
    [user.id, FACTOR_EXPIRY_S],
  );
  const factors = (
    await tx.query<{
      id: string;
      status: string;
      friendly_name: string | null;
      factor_type: string;
      phone: string | null;
    }>('select id, status, friendly_name, factor_type, phone from auth.mfa_factors where user_id = $1 for update', [
      user.id,
    ])
  ).rows;
  if (name.trim() !== '' && factors.some((f) => f.friendly_name === name)) throw errors.mfaFactorNameConflict(name);
  const replaces = (f: (typeof factors)[number]) =>
    f.status !== 'verified' &&
    f.factor_type === replaced.type &&
    (replaced.phone === undefined || f.phone === replaced.phone);
  // Unverified factors count too: otherwise enrolments (each a number to text) would pile up.
  if (factors.filter((f) => !replaces(f)).length >= ctx.config.auth.mfa.maxEnrolledFactors)
    throw errors.tooManyFactors();
  const verified = factors.filter((f) => f.status === 'verified').length;
  if (verified >= MAX_VERIFIED_FACTORS) throw errors.tooManyFactors();
  // Otherwise a stolen password would be enough to add the thief's own authenticator, verify it
  // and reach aal2: once a factor protects the account, only an aal2 session adds another.
  if (verified > 0 && session.aal !== 'aal2') throw errors.insufficientAalToEnroll();
  const gone = factors.filter(replaces).map((f) => f.id);
  if (gone.length > 0) await tx.query('delete from auth.mfa_factors where id = any($1::uuid[])', [gone]);
}
