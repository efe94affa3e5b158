/**
 * OAuth providers on loopback for the sign-in tests: a real OpenID provider (the `oidc-provider`
 * package, with its development login pages), a fake GitHub (OAuth 2.0 and its user/emails API),
 * and a browser stand-in that follows redirects and signs in at the provider.
 */
import http from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import Provider from 'oidc-provider';

export interface Account {
  readonly sub: string;
  readonly email?: string;
  readonly email_verified?: boolean;
  readonly name?: string;
}

export interface OidcServer {
  readonly issuer: string;
  /** Signs an ID token with the provider's own key (or, with `foreignKey`, one it never published). */
  signIdToken(claims: Record<string, unknown>, options?: { foreignKey?: boolean; expiresIn?: string }): Promise<string>;
  stop(): Promise<void>;
}

function listen(server: http.Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
}

const close = (server: http.Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

/**
 * An OpenID provider at http://127.0.0.1:<port>, with one client whose callback is `redirectUri`.
 * The login name typed at its login page is the account id; `accounts` gives the claims of each
 * (others get `<id>@example.com`, verified).
 */
export async function startOidcServer(options: {
  port: number;
  clientId: string;
  clientSecret: string;
  redirectUris: string[];
  accounts?: Record<string, Omit<Account, 'sub'>>;
}): Promise<OidcServer> {
  const issuer = `http://127.0.0.1:${options.port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk: JWK = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
  const foreign = await generateKeyPair('RS256');
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: options.redirectUris,
        token_endpoint_auth_method: 'client_secret_post',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-cookie-key'] },
    // The claims the scopes ask for go into the ID token, where Trellis reads them.
    conformIdTokenClaims: false,
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'picture'] },
    features: { devInteractions: { enabled: true } },
    findAccount: (_ctx: unknown, id: string) => ({
      accountId: id,
      claims: () => ({
        sub: id,
        email: `${id}@example.com`,
        email_verified: true,
        ...options.accounts?.[id],
      }),
    }),
  });
  const server = http.createServer(provider.callback());
  await listen(server, options.port);
  return {
    issuer,
    async signIdToken(claims, { foreignKey = false, expiresIn = '5m' } = {}) {
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .setIssuer(typeof claims.iss === 'string' ? claims.iss : issuer)
        .setIssuedAt(expiresIn.startsWith('-') ? Math.floor(Date.now() / 1000) - 3600 : undefined)
        .setExpirationTime(expiresIn.startsWith('-') ? Math.floor(Date.now() / 1000) - 600 : expiresIn)
        .sign(foreignKey ? foreign.privateKey : privateKey);
    },
    stop: () => close(server),
  };
}

export interface GithubUser {
  readonly id: number;
  readonly login: string;
  readonly name?: string;
  readonly emails: { email: string; primary: boolean; verified: boolean }[];
}

export interface FakeGithub {
  readonly url: string;
  /** Who signs in at the next authorization. */
  nextUser: GithubUser;
  /** The token requests it answered, for assertions (a replayed code is refused). */
  readonly tokenRequests: URLSearchParams[];
  stop(): Promise<void>;
}

/** GitHub's OAuth endpoints and REST API as GitHub Enterprise lays them out (`<url>/api/v3`). */
export async function startFakeGithub(port: number, clientSecret: string): Promise<FakeGithub> {
  const codes = new Map<string, GithubUser>();
  const tokens = new Map<string, GithubUser>();
  const fake: FakeGithub = {
    url: `http://127.0.0.1:${port}`,
    nextUser: { id: 1, login: 'octocat', emails: [] },
    tokenRequests: [],
    stop: () => close(server),
  };
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', fake.url);
    if (url.pathname === '/login/oauth/authorize') {
      // Signs the next user in at once and sends the browser back, as GitHub does for an app it knows.
      const code = `code-${Math.random().toString(36).slice(2)}`;
      codes.set(code, fake.nextUser);
      const back = new URL(url.searchParams.get('redirect_uri') ?? '');
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.href });
      return res.end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        const form = new URLSearchParams(body);
        fake.tokenRequests.push(form);
        const user = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (!user || form.get('client_secret') !== clientSecret)
          return json(res, 400, {
            error: 'bad_verification_code',
            error_description: 'The code is incorrect or expired.',
          });
        const token = `gho_${Math.random().toString(36).slice(2)}`;
        tokens.set(token, user);
        json(res, 200, { access_token: token, token_type: 'bearer', scope: 'user:email' });
      });
      return;
    }
    const user = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (!user) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/api/v3/user')
      return json(res, 200, {
        id: user.id,
        login: user.login,
        name: user.name ?? null,
        avatar_url: `${fake.url}/a.png`,
      });
    if (url.pathname === '/api/v3/user/emails') return json(res, 200, user.emails);
    json(res, 404, { message: 'Not Found' });
  });
  await listen(server, port);
  return fake;
}

/** A cookie-keeping browser stand-in for fetch, enough for the provider's login pages. */
export class Browser {
  private readonly cookies = new Map<string, Map<string, string>>();

  async request(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<Response> {
    const target = new URL(url);
    const jar = this.cookies.get(target.host) ?? new Map<string, string>();
    this.cookies.set(target.host, jar);
    const headers: Record<string, string> = {};
    if (jar.size) headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    if (init.form) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await fetch(url, {
      method: init.method ?? (init.form ? 'POST' : 'GET'),
      headers,
      body: init.form ? new URLSearchParams(init.form).toString() : undefined,
      redirect: 'manual',
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') jar.delete(name);
      else jar.set(name, value);
    }
    return response;
  }

  /**
   * Follows redirects from `url`, signing in as `login` (and consenting) at the provider's pages,
   * until a redirect leaves for `stopAt` (the app); returns that URL.
   */
  async signIn(url: string, login: string, stopAt: string, maxSteps = 20): Promise<URL> {
    let next = url;
    for (let step = 0; step < maxSteps; step++) {
      if (next.startsWith(stopAt)) return new URL(next);
      const response = await this.request(next);
      const location = response.headers.get('location');
      if (location) {
        next = new URL(location, next).href;
        continue;
      }
      const page = await response.text();
      const prompt = /name="prompt" value="(\w+)"/.exec(page)?.[1];
      if (!prompt)
        throw new Error(`no redirect and no login form at ${next} (${response.status}): ${page.slice(0, 300)}`);
      const submitted = await this.request(next, {
        form: prompt === 'login' ? { prompt, login, password: 'any' } : { prompt },
      });
      const after = submitted.headers.get('location');
      if (!after) throw new Error(`the ${prompt} form at ${next} answered ${submitted.status}`);
      next = new URL(after, next).href;
    }
    throw new Error(`no way back to ${stopAt} after ${maxSteps} steps`);
  }
}
