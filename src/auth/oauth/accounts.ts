/**
 * The user an external identity signs in as, by GoTrue's rules (internal/models/linking.go,
 * createAccountFromExternalIdentity): a known identity signs its user in; otherwise a verified
 * provider address that one user holds links the identity to that user; otherwise a new user.
 *
 * One deliberate difference: GoTrue also links unverified addresses when email confirmation is
 * off (its autoconfirm). Trellis links only addresses the provider says it verified, so an
 * account at a provider that does not check addresses cannot take over someone else's user. A
 * multi-tenant Azure address never links (any tenant's administrator chooses it), and an unconfirmed
 * user is confirmed only by a provider that verified that user's own address.
 */
import type { Tx } from '../../db/index.js';
import { stringifyJson } from '../../platform/json.js';
import type { AuthContext } from '../context.js';
import { authError, errors } from '../errors.js';
import { findUserById, insertUser, isBanned, updateUser, type UserRow } from '../users.js';
import type { ProviderUser } from './providers.js';

/** The address GoTrue puts on the user: the primary one, or else the last listed. */
export function candidateEmail(user: ProviderUser): { email: string; verified: boolean } {
  const primary = user.emails.find((e) => e.primary) ?? user.emails.at(-1);
  return primary
    ? { email: primary.email.trim().toLowerCase(), verified: primary.verified }
    : { email: '', verified: false };
}

/** identity_data with the address GoTrue records on it (the candidate one). */
function identityData(user: ProviderUser): Record<string, unknown> {
  const { email, verified } = candidateEmail(user);
  return { ...user.metadata, ...(email ? { email, email_verified: verified } : {}) };
}

async function findIdentity(tx: Tx, provider: string, subject: string) {
  return (
    await tx.query<{ id: string; user_id: string }>(
      'select id, user_id from auth.identities where provider = $1 and provider_id = $2 for update',
      [provider, subject],
    )
  ).rows[0];
}

async function insertIdentity(tx: Tx, userId: string, provider: string, user: ProviderUser): Promise<void> {
  await tx.query(
    `insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
     values ($1, $2, $3::jsonb, $4, now())`,
    [user.subject, userId, stringifyJson(identityData(user)), provider],
  );
}

/** app_metadata.providers from the user's identities (GoTrue's UpdateAppMetaDataProviders). */
export async function refreshProviders(tx: Tx, userId: string): Promise<UserRow> {
  return updateUser(
    tx,
    userId,
    `raw_app_meta_data = raw_app_meta_data || jsonb_build_object('providers',
       coalesce((select jsonb_agg(distinct provider) from auth.identities where user_id = $1), '[]'::jsonb))`,
    [],
  );
}

/** user_metadata gains the identity's fields (GoTrue's UpdateUserMetaData merges them in). */
async function mergeMetadata(tx: Tx, userId: string, user: ProviderUser): Promise<void> {
  await updateUser(tx, userId, 'raw_user_meta_data = raw_user_meta_data || $2::jsonb', [
    stringifyJson(identityData(user)),
  ]);
}

/**
 * The users holding an address: as their email, or through an identity whose provider verified it.
 * (GoTrue counts identities with unverified addresses too, so an identity someone made with another
 * person's address at a careless provider would block that person's own linking.)
 */
async function usersWithEmail(tx: Tx, email: string): Promise<string[]> {
  const found = await tx.query<{ id: string }>(
    `select id from auth.users where email = $1 and is_sso_user = false and deleted_at is null
     union select user_id from auth.identities
       where email = $1 and (identity_data ->> 'email_verified' = 'true' or provider = 'email')`,
    [email],
  );
  return found.rows.map((r) => r.id);
}

/** Finds or makes the user an external identity signs in as, confirmed when the provider vouches. */
export async function accountForIdentity(
  ctx: AuthContext,
  tx: Tx,
  provider: string,
  user: ProviderUser,
  emailOptional: boolean,
): Promise<UserRow> {
  const candidate = candidateEmail(user);
  const known = await findIdentity(tx, provider, user.subject);
  let row: UserRow | undefined;
  let created = false;
  if (known) {
    await tx.query('update auth.identities set identity_data = $2::jsonb, updated_at = now() where id = $1', [
      known.id,
      stringifyJson(identityData(user)),
    ]);
    await mergeMetadata(tx, known.user_id, user);
    row = await findUserById(tx, known.user_id, true);
  } else {
    const holders = candidate.email ? await usersWithEmail(tx, candidate.email) : [];
    const linkable = candidate.verified && !user.noEmailLinking;
    if (linkable && holders.length > 1)
      throw authError(
        500,
        'unexpected_failure',
        'Multiple accounts with the same email address in the same linking domain detected: default',
      );
    if (linkable && holders.length === 1 && holders[0]) {
      row = await findUserById(tx, holders[0], true);
      if (row) {
        await insertIdentity(tx, row.id, provider, user);
        await mergeMetadata(tx, row.id, user);
      }
    } else {
      if (ctx.config.auth.disableSignup) throw errors.signupDisabled();
      // An address someone already holds, unverified or not linkable, is not given to the new user
      // (GoTrue's rule for unverified ones).
      const email = holders.length > 0 ? '' : candidate.email;
      const confirmed = email !== '' && (candidate.verified || !ctx.config.auth.emailConfirmation);
      if (email !== '' && !confirmed)
        throw authError(
          422,
          'provider_email_needs_verification',
          `Unverified email with ${provider}. Verify the email with ${provider} in order to sign in`,
        );
      if (email === '' && !emailOptional && holders.length === 0)
        throw authError(500, 'unexpected_failure', 'Error getting user email from external provider');
      row = await insertUser(tx, {
        email: email || null,
        passwordHash: null,
        userMetadata: identityData(user),
        appMetadata: { provider, providers: [provider] },
        confirmed,
        emailIdentity: false,
      });
      await insertIdentity(tx, row.id, provider, user);
      created = true;
    }
  }
  if (!row) throw errors.userNotFound();
  if (isBanned(row)) throw errors.userBannedForbidden();
  // Without an address, an email-optional provider signs in without touching the user's (GoTrue).
  if (!created && row.email && !row.email_confirmed_at && !(emailOptional && candidate.email === '')) {
    // Only the provider's verified word for this same address proves it. GoTrue also confirms on a
    // verified other address (or any, with autoconfirm); otherwise its 422.
    if (!candidate.verified || candidate.email !== row.email.toLowerCase())
      throw authError(
        422,
        'provider_email_needs_verification',
        `Unverified email with ${provider}. Verify the email with ${provider} in order to sign in`,
      );
    // The address is proved now: what an unconfirmed sign-up left (its password, its other
    // identities) goes, so whoever registered it first does not share the account (GoTrue's
    // RemoveUnconfirmedIdentities, then Confirm).
    await tx.query('delete from auth.identities where user_id = $1 and not (provider = $2 and provider_id = $3)', [
      row.id,
      provider,
      user.subject,
    ]);
    await updateUser(tx, row.id, 'encrypted_password = null, email_confirmed_at = now()', []);
  }
  return refreshProviders(tx, row.id);
}

/** linkIdentity's callback: the identity joins the signed-in user who started the flow. */
export async function linkToUser(tx: Tx, targetId: string, provider: string, user: ProviderUser): Promise<UserRow> {
  const target = await findUserById(tx, targetId, true);
  if (!target) throw authError(422, 'user_not_found', 'Linking target user not found');
  const existing = await findIdentity(tx, provider, user.subject);
  if (existing)
    throw authError(
      422,
      'identity_already_exists',
      existing.user_id === target.id ? 'Identity is already linked' : 'Identity is already linked to another user',
    );
  await insertIdentity(tx, target.id, provider, user);
  const candidate = candidateEmail(user);
  if (!target.email && candidate.email && candidate.verified) {
    const taken = await tx.query(`select 1 from auth.users where email = $1 and id <> $2`, [
      candidate.email,
      target.id,
    ]);
    if (taken.rowCount)
      throw authError(400, 'email_exists', 'A user with this email address has already been registered');
    await updateUser(tx, target.id, 'email = $2, email_confirmed_at = now()', [candidate.email]);
  }
  // An anonymous user who links an identity is a permanent user from then on, as on GoTrue.
  if (target.is_anonymous) await updateUser(tx, target.id, 'is_anonymous = false', []);
  return refreshProviders(tx, target.id);
}
