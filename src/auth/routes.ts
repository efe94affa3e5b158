/** /auth/v1: the GoTrue endpoints @supabase/auth-js calls, mounted with the apikey check. */
import { Hono } from 'hono';
import { limitBody, MAX_JSON_BODY } from '../platform/body.js';
import { requireApiKey } from '../platform/keys.js';
import type { Services } from '../services.js';
import { getUser, logout, putUser, settings, signup, token } from './account.js';
import { adminRoutes, invite } from './admin.js';
import { authContext } from './context.js';
import { sso } from './disabled.js';
import { authorize, linkIdentity } from './oauth/authorize.js';
import { callback } from './oauth/callback.js';
import { unlinkIdentity } from './oauth/identities.js';
import { errors } from './errors.js';
import { otp, recover, resend, verifyGet, verifyPost } from './email.js';
import { authLimits } from './limits.js';
import { unenroll } from './mfa.js';
import { challengeFactor, enrollFactor, verifyAnyFactor } from './mfa-webauthn.js';
import { dynamicRegister, oauthClientAdminRoutes } from './oauth-clients.js';
import { authorizationDetails, authorize as oauthServerAuthorize, consent } from './oauth-server.js';
import { listGrants, revokeGrant } from './oauth-grants.js';
import { oauthToken } from './oauth-token.js';
import { adminDeletePasskey, adminListPasskeys } from './passkey-manage.js';
import { passkeyRoutes } from './passkeys.js';
import { reauthenticate } from './reauthenticate.js';
import { respondJson } from '../platform/json.js';
import { createSmsProvider } from '../platform/sms/index.js';

export function authRoutes(services: Services): Hono {
  const ctx = authContext({
    config: services.config,
    db: services.db,
    tokens: services.tokens,
    limiter: services.limiter,
    mailer: services.mailer,
    templates: services.templates,
    sms: createSmsProvider(services.config.auth.sms),
    log: services.log,
  });
  const limits = authLimits(services.config);
  const app = new Hono();
  // The link in an email is opened by a browser, which sends no apikey (on Supabase too).
  app.get('/verify', (c) => verifyGet(ctx, limits, c));
  // So are a provider sign-in's start and the provider's redirect (or form post) back.
  app.get('/authorize', (c) => authorize(ctx, limits, c));
  app.get('/callback', (c) => callback(ctx, limits, c));
  app.post(
    '/callback',
    limitBody(MAX_JSON_BODY, () => {
      throw errors.bodyTooLarge(MAX_JSON_BODY);
    }),
    (c) => callback(ctx, limits, c),
  );
  // Public keys, for anyone verifying tokens (jose's createRemoteJWKSet, PyJWKClient send no apikey;
  // Supabase serves it without one). Cached as GoTrue has it cached.
  app.get('/.well-known/jwks.json', (c) => {
    c.header('Cache-Control', 'public, max-age=600');
    return respondJson(c, services.tokens.jwks());
  });
  // The OAuth server's browser redirect and its clients' token requests carry no apikey either.
  app.get('/oauth/authorize', (c) => oauthServerAuthorize(ctx, limits, c));
  app.post(
    '/oauth/token',
    limitBody(MAX_JSON_BODY, () => {
      throw errors.bodyTooLarge(MAX_JSON_BODY);
    }),
    (c) => oauthToken(ctx, limits, c),
  );
  app.use('*', requireApiKey(services.tokens));
  app.use(
    '*',
    limitBody(MAX_JSON_BODY, () => {
      throw errors.bodyTooLarge(MAX_JSON_BODY);
    }),
  );

  app.get('/settings', (c) => settings(ctx, c));
  app.get('/health', (c) =>
    respondJson(c, { version: 'trellis', name: 'GoTrue', description: 'Trellis auth (GoTrue-compatible)' }),
  );
  app.post('/signup', (c) => signup(ctx, limits, c));
  app.post('/token', (c) => token(ctx, limits, c));
  app.get('/user', (c) => getUser(ctx, c));
  app.put('/user', (c) => putUser(ctx, limits, c));
  app.post('/logout', (c) => logout(ctx, c));
  app.post('/recover', (c) => recover(ctx, limits, c));
  app.post('/otp', (c) => otp(ctx, limits, c));
  app.post('/magiclink', (c) => otp(ctx, limits, c));
  app.post('/verify', (c) => verifyPost(ctx, limits, c));
  app.post('/resend', (c) => resend(ctx, limits, c));
  app.post('/factors', (c) => enrollFactor(ctx, c));
  app.post('/factors/:id/challenge', (c) => challengeFactor(ctx, limits, c));
  app.post('/factors/:id/verify', (c) => verifyAnyFactor(ctx, limits, c));
  app.delete('/factors/:id', (c) => unenroll(ctx, c));
  app.get('/reauthenticate', (c) => reauthenticate(ctx, limits, c));
  app.route('/passkeys', passkeyRoutes(ctx, limits));
  app.post('/oauth/clients/register', (c) => dynamicRegister(ctx, limits, c));
  app.get('/oauth/authorizations/:authorizationId', (c) => authorizationDetails(ctx, c));
  app.post('/oauth/authorizations/:authorizationId/consent', (c) => consent(ctx, c));
  app.get('/user/oauth/grants', (c) => listGrants(ctx, c));
  app.delete('/user/oauth/grants', (c) => revokeGrant(ctx, c));
  app.get('/user/identities/authorize', (c) => linkIdentity(ctx, limits, c));
  app.delete('/user/identities/:id', (c) => unlinkIdentity(ctx, c));
  app.all('/sso', () => sso());
  app.all('/sso/*', () => sso());
  app.post('/invite', (c) => invite(ctx, limits, c));
  app.route('/admin/oauth/clients', oauthClientAdminRoutes(ctx));
  const admin = adminRoutes(ctx);
  // Under the admin router, so its service-role check comes first.
  admin.get('/users/:id/passkeys', (c) => adminListPasskeys(ctx, c));
  admin.delete('/users/:id/passkeys/:passkeyId', (c) => adminDeletePasskey(ctx, c));
  app.route('/admin', admin);
  return app;
}
