/** /auth/v1: the GoTrue endpoints @supabase/auth-js calls, mounted with the apikey check. */
import { Hono } from 'hono';
import { limitBody, MAX_JSON_BODY } from '../platform/body.js';
import { requireApiKey } from '../platform/keys.js';
import type { Services } from '../services.js';
import { getUser, logout, putUser, settings, signup, token } from './account.js';
import { adminRoutes, invite } from './admin.js';
import { authContext } from './context.js';
import { identityLinking, reauthenticate, sso } from './disabled.js';
import { errors } from './errors.js';
import { otp, recover, resend, verifyGet, verifyPost } from './email.js';
import { authLimits } from './limits.js';
import { challenge, enroll, unenroll, verifyFactor } from './mfa.js';
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
  app.post('/factors', (c) => enroll(ctx, c));
  app.post('/factors/:id/challenge', (c) => challenge(ctx, c));
  app.post('/factors/:id/verify', (c) => verifyFactor(ctx, limits, c));
  app.delete('/factors/:id', (c) => unenroll(ctx, c));
  app.get('/reauthenticate', (c) => reauthenticate(ctx, c));
  app.get('/user/identities/authorize', (c) => identityLinking(ctx, c));
  app.delete('/user/identities/:id', (c) => identityLinking(ctx, c));
  app.all('/sso', () => sso());
  app.all('/sso/*', () => sso());
  app.post('/invite', (c) => invite(ctx, limits, c));
  app.route('/admin', adminRoutes(ctx));
  return app;
}
