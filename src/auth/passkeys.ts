/**
 * Passkeys (`/passkeys/*`, auth-js `passkey.*`): a signed-in user registers discoverable WebAuthn
 * credentials and anyone signs in with one (management: passkey-manage.ts). Kept in
 * GoTrue's auth.webauthn_credentials and auth.webauthn_challenges; a challenge is consumed by the
 * first answer, right or wrong, so an assertion cannot be replayed against it.
 */
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { readJson } from '../platform/body.js';
import { respondJson } from '../platform/json.js';
import type { AuthContext } from './context.js';
import { codes, errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { startSession } from './sessions.js';
import { findUserById, isBanned, isUuid } from './users.js';
import { credentialsOf, registeringCaller, stored, type CredentialRow } from './passkey-store.js';
import { listOwn, removeOwn, rename } from './passkey-manage.js';
import {
  authenticationOptions,
  parseAssertion,
  parseRegistration,
  registrationOptions,
  userIdFromHandle,
  verifyAssertion,
  verifyRegistration,
  WEBAUTHN_CHALLENGE_TTL_S,
  type CeremonySession,
} from './webauthn.js';

// GoTrue's [auth.passkey] max_passkeys_per_user default.
const MAX_PASSKEYS_PER_USER = 10;

export function passkeyRoutes(ctx: AuthContext, limits: AuthLimits): Hono {
  const app = new Hono();
  app.use('*', async (_c, next) => {
    if (!ctx.config.auth.webauthn.passkeys) throw errors.passkeyDisabled();
    await next();
  });
  app.post('/authentication/options', (c) => startSignIn(ctx, limits, c));
  app.post('/authentication/verify', (c) => finishSignIn(ctx, c));
  app.post('/registration/options', (c) => startRegistration(ctx, c));
  app.post('/registration/verify', (c) => finishRegistration(ctx, c));
  app.get('/', (c) => listOwn(ctx, c));
  app.patch('/:id', (c) => rename(ctx, c));
  app.delete('/:id', (c) => removeOwn(ctx, c));
  return app;
}

async function newChallenge(
  tx: Tx,
  userId: string | null,
  type: 'registration' | 'authentication',
  session: CeremonySession,
): Promise<{ id: string; expiresAt: number }> {
  // Abandoned challenges would pile up (anyone may ask for a sign-in one): expired ones go here.
  await tx.query(
    `delete from auth.webauthn_challenges where id in (select id from auth.webauthn_challenges where expires_at < now() limit 100)`,
  );
  const row = (
    await tx.query<{ id: string; expires_at: Date }>(
      `insert into auth.webauthn_challenges (user_id, challenge_type, session_data, expires_at)
       values ($1, $2, $3, now() + make_interval(secs => $4)) returning id, expires_at`,
      [userId, type, JSON.stringify(session), WEBAUTHN_CHALLENGE_TTL_S],
    )
  ).rows[0] as { id: string; expires_at: Date };
  return { id: row.id, expiresAt: Math.floor(row.expires_at.getTime() / 1000) };
}

/** Deletes and returns the challenge: whatever the answer, it is never checked twice. */
async function consumeChallenge(
  tx: Tx,
  id: string,
  type: 'registration' | 'authentication',
  userId: string | null,
): Promise<CeremonySession> {
  const row = (
    await tx.query<{ session_data: CeremonySession; expired: boolean }>(
      `delete from auth.webauthn_challenges where id = $1 and challenge_type = $2 and user_id is not distinct from $3
       returning session_data, expires_at < now() as expired`,
      [id, type, userId],
    )
  ).rows[0];
  if (!row) throw errors.webauthnChallengeNotFound();
  if (row.expired) throw errors.webauthnChallengeExpired();
  return row.session_data;
}

const verifyBody = z.object({ challenge_id: z.string().max(64).optional(), credential: z.unknown().optional() });

function verifyParams(body: z.output<typeof verifyBody>): { challengeId: string; credential: unknown } {
  if (!body.challenge_id) throw errors.validation('challenge_id is required');
  if (body.credential === undefined || body.credential === null) throw errors.validation('credential is required');
  if (!isUuid(body.challenge_id)) throw errors.validation('challenge_id must be a valid UUID');
  return { challengeId: body.challenge_id, credential: body.credential };
}

async function startRegistration(ctx: AuthContext, c: Context) {
  return respondJson(
    c,
    await ctx.db.transaction(async (tx) => {
      const { user } = await registeringCaller(ctx, c, tx);
      const existing = await credentialsOf(tx, user.id);
      if (existing.length >= MAX_PASSKEYS_PER_USER) throw errors.tooManyPasskeys();
      const name = user.email || user.phone || user.id;
      const meta = user.raw_user_meta_data as { name?: unknown };
      const { options, session } = await registrationOptions(ctx.config.auth.webauthn, {
        userId: user.id,
        userName: name,
        displayName: typeof meta.name === 'string' && meta.name !== '' ? meta.name : name,
        exclude: existing.map(stored),
        residentKey: 'required',
      });
      const challenge = await newChallenge(tx, user.id, 'registration', session);
      return { challenge_id: challenge.id, options, expires_at: challenge.expiresAt };
    }),
  );
}

async function finishRegistration(ctx: AuthContext, c: Context) {
  await ctx.db.transaction((tx) => registeringCaller(ctx, c, tx));
  const params = verifyParams(await readJson(c, verifyBody, codes));
  // The challenge is consumed in a transaction of its own, so a failed answer cannot retry it.
  const { user, session } = await ctx.db.transaction(async (tx) => {
    const caller = await registeringCaller(ctx, c, tx);
    return {
      user: caller.user,
      session: await consumeChallenge(tx, params.challengeId, 'registration', caller.user.id),
    };
  });
  const response = parseRegistration(params.credential);
  if (!response) throw errors.webauthnInvalidCredential();
  const credential = await verifyRegistration(ctx.config.auth.webauthn, session, response);
  if (!credential) throw errors.webauthnVerificationFailed();
  const created = await ctx.db.transaction(async (tx) => {
    await tx.query('select 1 from auth.users where id = $1 for update', [user.id]);
    if ((await credentialsOf(tx, user.id)).length >= MAX_PASSKEYS_PER_USER) throw errors.tooManyPasskeys();
    const row = (
      await tx.query<{ id: string; friendly_name: string; created_at: Date }>(
        `insert into auth.webauthn_credentials (user_id, credential_id, public_key, attestation_type, aaguid, sign_count,
           transports, backup_eligible, backed_up)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         on conflict (credential_id) do nothing returning id, friendly_name, created_at`,
        [
          user.id,
          Buffer.from(credential.id, 'base64url'),
          Buffer.from(credential.publicKey),
          credential.attestationType,
          credential.aaguid,
          credential.counter,
          JSON.stringify(credential.transports ?? []),
          credential.backupEligible,
          credential.backedUp,
        ],
      )
    ).rows[0];
    if (!row) throw errors.webauthnCredentialExists();
    return row;
  });
  return respondJson(c, {
    id: created.id,
    ...(created.friendly_name ? { friendly_name: created.friendly_name } : {}),
    created_at: created.created_at.toISOString(),
  });
}

async function startSignIn(ctx: AuthContext, limits: AuthLimits, c: Context) {
  // Anyone may ask, and each answer leaves a row until it expires: the verification budget bounds both.
  await ctx.limit(limits.verify, ctx.client(c).ip);
  const { options, session } = await authenticationOptions(ctx.config.auth.webauthn, undefined);
  const challenge = await ctx.db.transaction((tx) => newChallenge(tx, null, 'authentication', session));
  return respondJson(c, { challenge_id: challenge.id, options, expires_at: challenge.expiresAt });
}

async function finishSignIn(ctx: AuthContext, c: Context) {
  const params = verifyParams(await readJson(c, verifyBody, codes));
  // Not limited itself: each challenge (limited where it is handed out) takes one answer.
  const session = await ctx.db.transaction((tx) => consumeChallenge(tx, params.challengeId, 'authentication', null));
  const response = parseAssertion(params.credential);
  if (!response) throw errors.webauthnInvalidCredential();
  const client = ctx.client(c);
  const result = await ctx.db.transaction(async (tx) => {
    const row = (
      await tx.query<CredentialRow>('select * from auth.webauthn_credentials where credential_id = $1 for update', [
        Buffer.from(response.rawId, 'base64url'),
      ])
    ).rows[0];
    if (!row) throw errors.webauthnVerificationFailed();
    // The authenticator names the account it holds the passkey for; it must be the passkey's owner.
    const handleUser = userIdFromHandle(response.response.userHandle);
    if (response.response.userHandle !== undefined && handleUser !== row.user_id)
      throw errors.webauthnVerificationFailed();
    const checked = await verifyAssertion(ctx.config.auth.webauthn, session, response, stored(row));
    if (!checked) throw errors.webauthnVerificationFailed();
    const user = await findUserById(tx, row.user_id, true);
    if (!user) throw errors.webauthnVerificationFailed();
    if (user.email && !user.email_confirmed_at) throw errors.emailNotConfirmedForbidden();
    if (user.phone && !user.phone_confirmed_at) throw errors.phoneNotConfirmedForbidden();
    if (isBanned(user)) throw errors.userBannedForbidden();
    await tx.query(
      'update auth.webauthn_credentials set sign_count = $2, last_used_at = now(), updated_at = now() where id = $1',
      [row.id, checked.newCounter],
    );
    return startSession(tx, ctx.settings, user, 'passkey', client);
  });
  return respondJson(c, result);
}
