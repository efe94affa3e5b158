/**
 * Passkeys and WebAuthn factors in a real Chromium, with a CDP virtual authenticator: supabase-js's
 * own browser code (registerPasskey, signInWithPasskey, mfa.webauthn.register/authenticate) calls
 * navigator.credentials, and Chromium signs. What the software authenticator in the other suites
 * builds by hand, a browser builds here.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../helpers/cli.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const available = await fs.access(CHROMIUM).then(
  () => true,
  () => false,
);
if (!available) {
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.log(`skipping the WebAuthn browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);
}

describe.skipIf(!available)('WebAuthn in Chromium with a virtual authenticator', () => {
  let server: TestServer;
  let pages: http.Server;
  let browser: Browser;
  let page: Page;
  let origin: string;
  let addAuthenticator: (transport: 'internal' | 'usb') => Promise<unknown>;

  beforeAll(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    server = await startTestServer({
      env: {
        AUTH_PASSKEY_ENABLED: 'true',
        AUTH_MFA_WEB_AUTHN_ENROLL_ENABLED: 'true',
        AUTH_MFA_WEB_AUTHN_VERIFY_ENABLED: 'true',
        AUTH_WEBAUTHN_RP_ID: 'localhost',
        AUTH_WEBAUTHN_RP_ORIGINS: origin,
      },
    });
    const umd = await fs.readFile(
      path.join(path.dirname(createRequire(import.meta.url).resolve('@supabase/supabase-js')), 'umd', 'supabase.js'),
    );
    // The page's origin is what the authenticator binds credentials to: localhost, a secure context.
    pages = http.createServer((req, res) => {
      if (req.url === '/supabase.js') return res.writeHead(200, { 'content-type': 'text/javascript' }).end(umd);
      res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><script src="/supabase.js"></script>
<script>
  window.client = () => supabase.createClient(${JSON.stringify(server.url)}, ${JSON.stringify(server.anonKey)}, {
    auth: { persistSession: false, autoRefreshToken: false, experimental: { passkey: true } },
  });
</script>`);
    });
    await new Promise<void>((resolve) => pages.listen(port, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
    page = await browser.newPage();
    await page.goto(origin);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    addAuthenticator = (transport) =>
      cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: {
          protocol: 'ctap2',
          transport,
          hasResidentKey: true,
          hasUserVerification: true,
          isUserVerified: true,
          automaticPresenceSimulation: true,
        },
      });
    // A platform authenticator (Touch ID, Windows Hello) holds passkeys.
    await addAuthenticator('internal');
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => pages?.close(resolve));
    await server?.stop();
  });

  test('registerPasskey, then signInWithPasskey in a fresh client, signs the same user in', async () => {
    const result = await page.evaluate(async () => {
      type Client = {
        auth: {
          signUp(c: object): Promise<{ data: { user: { id: string } | null }; error: unknown }>;
          registerPasskey(): Promise<{ data: { id: string } | null; error: { message: string } | null }>;
          signInWithPasskey(): Promise<{ data: { user?: { id: string } } | null; error: { message: string } | null }>;
        };
      };
      const make = (window as unknown as { client: () => Client }).client;
      const owner = make();
      const signUp = await owner.auth.signUp({ email: 'browser@example.com', password: 'browser password' });
      const registered = await owner.auth.registerPasskey();
      const signedIn = await make().auth.signInWithPasskey();
      return {
        userId: signUp.data.user?.id,
        registered: registered.error?.message ?? registered.data?.id,
        signedIn: signedIn.error?.message ?? signedIn.data?.user?.id,
      };
    });
    expect(result.registered).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.signedIn).toBe(result.userId);
  });

  test('mfa.webauthn.register, then authenticate, gives aal2', async () => {
    // auth-js asks for a cross-platform authenticator (a security key) for second factors.
    await addAuthenticator('usb');
    const aal = await page.evaluate(async () => {
      type Mfa = {
        webauthn: {
          register(p: object): Promise<{ error: { message: string } | null }>;
          authenticate(
            p: object,
          ): Promise<{ data: { access_token: string } | null; error: { message: string } | null }>;
        };
        listFactors(): Promise<{ data: { all: { id: string; factor_type: string; status: string }[] } | null }>;
      };
      type Client = { auth: { signUp(c: object): Promise<unknown>; mfa: Mfa } };
      const c = (window as unknown as { client: () => Client }).client();
      await c.auth.signUp({ email: 'factor@example.com', password: 'factor password' });
      const registered = await c.auth.mfa.webauthn.register({ friendlyName: 'virtual key' });
      if (registered.error) return `register: ${registered.error.message}`;
      const factor = (await c.auth.mfa.listFactors()).data?.all.find((f) => f.factor_type === 'webauthn');
      if (factor?.status !== 'verified') return `factor: ${JSON.stringify(factor)}`;
      const authenticated = await c.auth.mfa.webauthn.authenticate({ factorId: factor.id });
      if (authenticated.error) return `authenticate: ${authenticated.error.message}`;
      const payload = authenticated.data?.access_token.split('.')[1] ?? '';
      return (JSON.parse(atob(payload.replace(/-/g, '+').replace(/_/g, '/'))) as { aal: string }).aal;
    });
    expect(aal).toBe('aal2');
  });
});
