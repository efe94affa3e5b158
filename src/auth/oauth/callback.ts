/**
 * The provider's answer (GoTrue's external.go): `GET|POST /callback` (Apple posts a form) claims the
 * flow its state names, exchanges the code, signs the user in, and sends the browser back to
 * `redirect_to` with the session in the fragment (implicit) or an auth code in the query (PKCE,
 * exchanged by `grant_type=pkce`). Failures once the flow is known go back to `redirect_to` as
 * `error`, `error_code` and `error_description`, in query and fragment, as GoTrue sends them; a state
 * that names no flow goes to the site URL.
 */
import type { Context } from 'hono';
import { ApiError } from '../../errors.js';
import { safeRedirect, type AuthContext } from '../context.js';
import { authError, errors } from '../errors.js';
import type { AuthLimits } from '../limits.js';
import { startSession, type SessionResponse } from '../sessions.js';
import { accountForIdentity, linkToUser } from './accounts.js';
import { callbackUrl, enabledProvider, nonceFor } from './authorize.js';
import { exchangeCode, ExchangeError } from './client.js';
import { withAppleName } from './providers.js';
import { verifyState } from './state.js';

const MAX_CALLBACK_BODY = 64 * 1024;

interface FlowRow {
  id: string;
  user_id: string | null;
  auth_code: string | null;
  code_challenge: string | null;
  code_challenge_method: 's256' | 'plain' | null;
  provider_type: string;
  referrer: string | null;
  oauth_client_state_id: string | null;
  linking_target_id: string | null;
  email_optional: boolean;
}

// GoTrue's oauthErrorMap: the `error` a status becomes in a redirect.
const OAUTH_ERRORS: Record<number, string> = {
  400: 'invalid_request',
  401: 'unauthorized_client',
  403: 'access_denied',
  500: 'server_error',
  503: 'temporarily_unavailable',
};
const ACCESS_DENIED = new Set(['signup_disabled', 'user_banned', 'provider_email_needs_verification']);

function errorParams(err: ApiError): URLSearchParams {
  const error = err.code.startsWith('oauth:')
    ? err.code.slice(6)
    : ACCESS_DENIED.has(err.code)
      ? 'access_denied'
      : (OAUTH_ERRORS[err.status] ?? 'server_error');
  const params = new URLSearchParams({ error, error_description: err.message });
  if (!err.code.startsWith('oauth:')) params.set('error_code', err.code);
  return params;
}

/** The provider's own error (`?error=access_denied`), passed on as GoTrue's OAuthError. */
const providerError = (error: string, description: string) =>
  new ApiError(400, `oauth:${error.slice(0, 100)}`, description.slice(0, 500));

async function callbackParams(c: Context): Promise<URLSearchParams> {
  if (c.req.method !== 'POST') return new URL(c.req.url).searchParams;
  const length = Number(c.req.header('content-length') ?? '0');
  if (length > MAX_CALLBACK_BODY) throw errors.bodyTooLarge(MAX_CALLBACK_BODY);
  const text = await c.req.text();
  if (text.length > MAX_CALLBACK_BODY) throw errors.bodyTooLarge(MAX_CALLBACK_BODY);
  return new URLSearchParams(text);
}

/** Reads and claims the flow the state names; its errors send the browser to the site URL. */
async function claimFlow(ctx: AuthContext, state: string | null): Promise<FlowRow> {
  if (!state) throw authError(400, 'bad_oauth_callback', 'OAuth state parameter missing');
  const checked = await verifyState(ctx.tokens.secret, state);
  if (!checked.ok)
    throw authError(
      400,
      'bad_oauth_state',
      checked.expired ? 'OAuth state has expired' : 'OAuth state parameter is invalid',
    );
  return ctx.db.transaction(async (tx) => {
    const found = await tx.query<FlowRow>(
      `select id, user_id, auth_code, code_challenge, code_challenge_method, provider_type, referrer, oauth_client_state_id, linking_target_id,
         email_optional from auth.flow_state where id = $1 and authentication_method = 'oauth' for update`,
      [checked.flowId],
    );
    const flow = found.rows[0];
    if (!flow || flow.provider_type !== checked.provider)
      throw authError(400, 'bad_oauth_state', 'OAuth state not found or expired');
    if (flow.user_id !== null) throw authError(400, 'flow_state_already_used', 'State has already been used');
    // Claimed: a second callback with this state (a replay, a double submit) finds nothing.
    await tx.query('delete from auth.flow_state where id = $1', [flow.id]);
    return flow;
  });
}

/** The callback issues a session like a token grant, and counts against the same budget. */
export async function callback(ctx: AuthContext, limits: AuthLimits, c: Context) {
  await ctx.limit(limits.tokenRefresh, ctx.client(c).ip);
  const params = await callbackParams(c);
  let flow: FlowRow;
  try {
    flow = await claimFlow(ctx, params.get('state'));
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const url = new URL(ctx.config.auth.siteUrl);
    for (const [key, value] of errorParams(err)) url.searchParams.set(key, value);
    return c.redirect(url.href, 303);
  }
  const referrer = safeRedirect(ctx, flow.referrer ?? undefined);
  try {
    return c.redirect(await finish(ctx, c, flow, params, referrer), 302);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const url = new URL(referrer);
    const error = errorParams(err);
    for (const [key, value] of error) url.searchParams.set(key, value);
    url.hash = new URLSearchParams([...error, ['sb', '']]).toString();
    return c.redirect(url.href, 302);
  }
}

async function finish(
  ctx: AuthContext,
  c: Context,
  flow: FlowRow,
  params: URLSearchParams,
  referrer: string,
): Promise<string> {
  const error = params.get('error');
  if (error) throw providerError(error, params.get('error_description') ?? '');
  if (!params.get('code'))
    throw authError(400, 'bad_oauth_callback', 'OAuth callback with missing authorization code missing');
  const provider = enabledProvider(ctx, flow.provider_type);
  let verifier: string | undefined;
  if (flow.oauth_client_state_id) {
    const taken = await ctx.db.query<{ code_verifier: string | null; provider_type: string }>(
      'delete from auth.oauth_client_states where id = $1 returning code_verifier, provider_type',
      [flow.oauth_client_state_id],
    );
    const row = taken.rows[0];
    if (!row) throw authError(422, 'oauth_client_state_not_found', 'OAuth state not found');
    if (row.provider_type !== provider.id) throw authError(400, 'oauth_invalid_state', 'OAuth provider mismatch');
    verifier = row.code_verifier ?? undefined;
  }
  const nonce = nonceFor(ctx, provider, flow.id);
  let exchanged;
  try {
    exchanged = await exchangeCode(provider, params, callbackUrl(ctx, provider), verifier, nonce);
  } catch (err) {
    if (!(err instanceof ExchangeError)) throw err;
    ctx.log.info({ err, provider: provider.id }, 'oauth code exchange failed');
    const code = params.get('code') ?? '';
    throw err.stage === 'code'
      ? authError(500, 'unexpected_failure', `Unable to exchange external code: ${code.slice(0, 4)}`)
      : authError(500, 'unexpected_failure', 'Error getting user profile from external provider');
  }
  const profile = provider.name === 'apple' ? withAppleName(exchanged.user, params.get('user')) : exchanged.user;
  if (profile.emails.length === 0 && !flow.email_optional)
    throw authError(500, 'unexpected_failure', 'Error getting user email from external provider');
  const client = ctx.client(c);
  const outcome = await ctx.db.transaction(async (tx): Promise<{ code: string } | { session: SessionResponse }> => {
    const user = flow.linking_target_id
      ? await linkToUser(tx, flow.linking_target_id, provider.id, profile)
      : await accountForIdentity(ctx, tx, provider.id, profile, flow.email_optional);
    if (flow.code_challenge && flow.auth_code) {
      // PKCE: the flow comes back, with its user and the provider's tokens, for grant_type=pkce.
      await tx.query(
        `insert into auth.flow_state (id, user_id, auth_code, code_challenge_method, code_challenge, provider_type,
           provider_access_token, provider_refresh_token, authentication_method, referrer, auth_code_issued_at,
           email_optional, created_at, updated_at)
         values ($1, $2, $3, $4::auth.code_challenge_method, $5, $6, $7, $8, 'oauth', $9, now(), $10, now(), now())`,
        [
          flow.id,
          user.id,
          flow.auth_code,
          flow.code_challenge_method,
          flow.code_challenge,
          provider.id,
          exchanged.accessToken,
          exchanged.refreshToken || null,
          flow.referrer,
          flow.email_optional,
        ],
      );
      return { code: flow.auth_code };
    }
    return { session: await startSession(tx, ctx.settings, user, 'oauth', client) };
  });
  if ('code' in outcome) {
    const url = new URL(referrer);
    url.searchParams.set('code', outcome.code);
    return url.href;
  }
  const { session } = outcome;
  const fragment = new URLSearchParams({
    access_token: session.access_token,
    expires_at: String(session.expires_at),
    expires_in: String(session.expires_in),
    provider_token: exchanged.accessToken,
    ...(exchanged.refreshToken ? { provider_refresh_token: exchanged.refreshToken } : {}),
    refresh_token: session.refresh_token,
    token_type: 'bearer',
  });
  return `${referrer.split('#')[0]}#${fragment}`;
}
