/**
 * The "done when" of OAuth sign-in: in Chromium, a page using supabase-js with flowType 'pkce' calls
 * signInWithOAuth for an OpenID provider (oidc-provider on loopback), the user logs in at the
 * provider's pages, the browser comes back with ?code=, and supabase-js exchanges it for a session.
 */
import fs from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../helpers/cli.js';
import { startOidcServer, type OidcServer } from '../../helpers/oauth.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const CHROMIUM = '/usr/bin/chromium';
const available = fs.existsSync(CHROMIUM);
if (!available) {
  if (process.env.CI === 'true') throw new Error(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`);
  console.log(`skipping the OAuth browser test: ${CHROMIUM} is not installed (apt-get install chromium)`);
}

// supabase-js's browser build, as an app loads it from a CDN.
const SUPABASE_UMD = createRequire(import.meta.url).resolve('@supabase/supabase-js/dist/umd/supabase.js');

function page(apiUrl: string, anonKey: string): string {
  return `<!doctype html><html><body>
<button id="signin">Sign in with Test ID</button><pre id="result">starting</pre>
<script src="/supabase.js"></script>
<script>
  const client = supabase.createClient(${JSON.stringify(apiUrl)}, ${JSON.stringify(anonKey)}, {
    auth: { flowType: 'pkce', detectSessionInUrl: true },
  });
  const show = (text) => { document.getElementById('result').textContent = text; };
  client.auth.getSession().then(({ data, error }) => {
    if (error) show('error: ' + error.message);
    else if (data.session) show('signed in: ' + data.session.user.email + ' via ' + data.session.user.app_metadata.provider);
    else show('signed out');
  });
  document.getElementById('signin').onclick = () =>
    client.auth.signInWithOAuth({ provider: 'custom:test', options: { redirectTo: location.origin + '/app' } });
</script></body></html>`;
}

describe.skipIf(!available)('signInWithOAuth in Chromium', () => {
  let server: TestServer;
  let oidc: OidcServer;
  let app: http.Server;
  let appUrl: string;
  let browser: Browser;

  beforeAll(async () => {
    const [oidcPort, appPort] = [await freePort(), await freePort()];
    appUrl = `http://127.0.0.1:${appPort}`;
    server = await startTestServer({
      env: {
        AUTH_SITE_URL: appUrl,
        AUTH_EXTERNAL_TEST_ENABLED: 'true',
        AUTH_EXTERNAL_TEST_CLIENT_ID: 'browser-client',
        AUTH_EXTERNAL_TEST_SECRET: 'browser-secret',
        AUTH_EXTERNAL_TEST_URL: `http://127.0.0.1:${oidcPort}`,
      },
    });
    oidc = await startOidcServer({
      port: oidcPort,
      clientId: 'browser-client',
      clientSecret: 'browser-secret',
      redirectUris: [`${server.url}/auth/v1/callback`],
      accounts: { carol: { email: 'carol@example.com', email_verified: true, name: 'Carol' } },
    });
    const html = page(server.url, server.anonKey);
    app = http.createServer((req, res) => {
      if (req.url === '/supabase.js') {
        res.writeHead(200, { 'content-type': 'text/javascript' });
        return res.end(fs.readFileSync(SUPABASE_UMD));
      }
      if (req.url?.startsWith('/app')) {
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end(html);
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => app.listen(appPort, '127.0.0.1', resolve));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    app?.closeAllConnections();
    await new Promise<void>((resolve) => (app ? app.close(() => resolve()) : resolve()));
    await oidc?.stop();
    await server?.stop();
  });

  test('the page signs in at the provider and comes back with a session', async () => {
    const context = await browser.newContext();
    const tab = await context.newPage();
    tab.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    // The provider's pages link a web font; this machine has no way out, and needs none.
    await tab.route(/^https:\/\//, (route) => route.abort());
    await tab.goto(`${appUrl}/app`, { waitUntil: 'domcontentloaded' });
    await expect.poll(() => tab.textContent('#result')).toBe('signed out');
    await tab.click('#signin');
    await tab.waitForSelector('input[name="login"]');
    expect(tab.url().startsWith(oidc.issuer)).toBe(true);
    await tab.fill('input[name="login"]', 'carol');
    await tab.fill('input[name="password"]', 'any');
    await tab.click('button[type="submit"]');
    // The consent page: allow.
    await tab.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
    await tab.click('button[type="submit"]');
    await tab.waitForURL((url) => url.href.startsWith(`${appUrl}/app`));
    await expect
      .poll(() => tab.textContent('#result'), { timeout: 15_000 })
      .toBe('signed in: carol@example.com via custom:test');
    // supabase-js took the code out of the address bar once it had the session.
    expect(new URL(tab.url()).searchParams.get('code')).toBeNull();
    const rows = await server.sql.query<{ provider: string; provider_id: string }>(
      `select provider, provider_id from auth.identities where email = 'carol@example.com'`,
    );
    expect(rows.rows).toEqual([{ provider: 'custom:test', provider_id: 'carol' }]);
    await context.close();
  }, 60_000);
});
