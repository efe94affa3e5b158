/**
 * How each provider Trellis ships signs users in: an OpenID Connect issuer (discovery, ID token) or
 * a plain OAuth 2.0 service with a profile API, and what GoTrue reads from its answers
 * (internal/api/provider/*.go). Pure apart from the `getJson` it is handed.
 */
import type { ExternalProviderConfig } from '../../config.js';

export interface ProviderEmail {
  readonly email: string;
  readonly verified: boolean;
  readonly primary: boolean;
}

/** GoTrue's UserProvidedData: the identity's subject, its addresses and identity_data. */
export interface ProviderUser {
  readonly subject: string;
  readonly emails: readonly ProviderEmail[];
  /** identity_data and the user_metadata merged from it (GoTrue's provider.Claims, empty fields left out). */
  readonly metadata: Readonly<Record<string, unknown>>;
}

export type GetJson = (url: string, accessToken: string) => Promise<unknown>;

export interface OidcSpec {
  readonly kind: 'oidc';
  readonly issuer: string;
  readonly scopes: string;
  /** Apple posts the answer back (response_mode=form_post) when scopes ask for the name or email. */
  readonly formPost?: boolean;
}

export interface OAuth2Spec {
  readonly kind: 'oauth2';
  readonly authorizeUrl: string;
  readonly tokenUrl: string;
  readonly scopes: string;
  /** The provider wants PKCE from its client (X does). */
  readonly pkce: boolean;
  /** The provider wants the client secret by HTTP Basic rather than in the body. */
  readonly basicAuth: boolean;
  profile(getJson: GetJson, accessToken: string): Promise<ProviderUser>;
}

export type ProviderSpec = OidcSpec | OAuth2Spec;

const str = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** identity_data without empty values, as structs.Map with omitempty writes GoTrue's. */
export function claims(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== '' && v !== undefined && v !== null));
}

/** The user an ID token (or OIDC userinfo) describes. */
export function oidcUser(token: Record<string, unknown>): ProviderUser {
  const email = str(token.email);
  // Apple sends email_verified as the string "true".
  const verified = token.email_verified === true || token.email_verified === 'true';
  const subject = str(token.sub);
  const standard = [
    'iss',
    'sub',
    'name',
    'family_name',
    'given_name',
    'middle_name',
    'nickname',
    'preferred_username',
    'profile',
    'picture',
    'website',
    'gender',
    'birthdate',
    'zoneinfo',
    'locale',
    'phone_number',
  ];
  const fields: Record<string, unknown> = {};
  for (const key of standard) if (typeof token[key] === 'string') fields[key] = token[key];
  return {
    subject,
    emails: email ? [{ email, verified, primary: true }] : [],
    metadata: claims({
      ...fields,
      aud: Array.isArray(token.aud) ? token.aud[0] : token.aud,
      email,
      email_verified: email ? verified : undefined,
      phone_verified: typeof token.phone_number === 'string' ? token.phone_number_verified === true : undefined,
      provider_id: subject,
      full_name: str(token.name),
      avatar_url: str(token.picture),
    }),
  };
}

const origin = (url: string, fallback: string) => (url === '' ? fallback : url);

function github(base: string): OAuth2Spec {
  const web = origin(base, 'https://github.com');
  // GitHub Enterprise serves its API under /api/v3 of the same host (GoTrue does the same).
  const api = base === '' ? 'https://api.github.com' : `${base}/api/v3`;
  return {
    kind: 'oauth2',
    authorizeUrl: `${web}/login/oauth/authorize`,
    tokenUrl: `${web}/login/oauth/access_token`,
    scopes: 'user:email',
    pkce: false,
    basicAuth: false,
    async profile(getJson, token) {
      const user = obj(await getJson(`${api}/user`, token));
      const list = await getJson(`${api}/user/emails`, token);
      const emails = (Array.isArray(list) ? list : [])
        .map(obj)
        .filter((e) => str(e.email) !== '')
        .map((e) => ({ email: str(e.email), verified: e.verified === true, primary: e.primary === true }));
      const subject = str(user.id);
      return {
        subject,
        emails,
        metadata: claims({
          iss: api,
          sub: subject,
          name: str(user.name),
          preferred_username: str(user.login),
          picture: str(user.avatar_url),
          provider_id: subject,
          full_name: str(user.name),
          avatar_url: str(user.avatar_url),
          user_name: str(user.login),
        }),
      };
    },
  };
}

function gitlab(base: string): OAuth2Spec {
  const host = origin(base, 'https://gitlab.com');
  return {
    kind: 'oauth2',
    authorizeUrl: `${host}/oauth/authorize`,
    tokenUrl: `${host}/oauth/token`,
    scopes: 'read_user',
    pkce: false,
    basicAuth: false,
    async profile(getJson, token) {
      const user = obj(await getJson(`${host}/api/v4/user`, token));
      const list = await getJson(`${host}/api/v4/user/emails`, token);
      const primary = str(user.email);
      const emails: ProviderEmail[] = primary
        ? [{ email: primary, verified: user.confirmed_at !== null && user.confirmed_at !== undefined, primary: true }]
        : [];
      for (const e of (Array.isArray(list) ? list : []).map(obj))
        if (str(e.email) && str(e.email) !== primary)
          emails.push({
            email: str(e.email),
            verified: e.confirmed_at !== null && e.confirmed_at !== undefined,
            primary: false,
          });
      const subject = str(user.id);
      return {
        subject,
        emails,
        metadata: claims({
          iss: host,
          sub: subject,
          name: str(user.name),
          picture: str(user.avatar_url),
          provider_id: subject,
          full_name: str(user.name),
          avatar_url: str(user.avatar_url),
          user_name: str(user.username),
        }),
      };
    },
  };
}

function discord(base: string): OAuth2Spec {
  const host = origin(base, 'https://discord.com');
  return {
    kind: 'oauth2',
    authorizeUrl: `${host}/api/oauth2/authorize`,
    tokenUrl: `${host}/api/oauth2/token`,
    scopes: 'email identify',
    pkce: false,
    basicAuth: false,
    async profile(getJson, token) {
      const u = obj(await getJson(`${host}/api/users/@me`, token));
      const id = str(u.id);
      const avatar = str(u.avatar) ? `https://cdn.discordapp.com/avatars/${id}/${str(u.avatar)}.png` : '';
      const name = str(u.global_name) || str(u.username);
      return {
        subject: id,
        emails: str(u.email) ? [{ email: str(u.email), verified: u.verified === true, primary: true }] : [],
        metadata: claims({
          iss: `${host}/api`,
          sub: id,
          name,
          picture: avatar,
          provider_id: id,
          full_name: name,
          avatar_url: avatar,
          custom_claims: claims({ global_name: str(u.global_name) }),
        }),
      };
    },
  };
}

function facebook(base: string): OAuth2Spec {
  const web = origin(base, 'https://www.facebook.com');
  const graph = origin(base, 'https://graph.facebook.com');
  return {
    kind: 'oauth2',
    authorizeUrl: `${web}/dialog/oauth`,
    tokenUrl: `${graph}/oauth/access_token`,
    scopes: 'email',
    pkce: false,
    basicAuth: false,
    async profile(getJson, token) {
      const u = obj(await getJson(`${graph}/me?fields=email,first_name,last_name,name,picture`, token));
      const id = str(u.id);
      const picture = str(obj(obj(u.picture).data).url);
      return {
        subject: id,
        // Facebook only hands out addresses it has confirmed (GoTrue marks them verified).
        emails: str(u.email) ? [{ email: str(u.email), verified: true, primary: true }] : [],
        metadata: claims({
          iss: graph,
          sub: id,
          name: str(u.name),
          given_name: str(u.first_name),
          family_name: str(u.last_name),
          picture,
          provider_id: id,
          full_name: str(u.name),
          avatar_url: picture,
        }),
      };
    },
  };
}

function spotify(base: string): OAuth2Spec {
  const accounts = origin(base, 'https://accounts.spotify.com');
  const api = origin(base, 'https://api.spotify.com');
  return {
    kind: 'oauth2',
    authorizeUrl: `${accounts}/authorize`,
    tokenUrl: `${accounts}/api/token`,
    scopes: 'user-read-email',
    pkce: false,
    basicAuth: false,
    async profile(getJson, token) {
      const u = obj(await getJson(`${api}/v1/me`, token));
      const id = str(u.id);
      const images = Array.isArray(u.images) ? u.images.map(obj) : [];
      const picture = str(images[0]?.url);
      return {
        subject: id,
        // Spotify returns no verification flag; GoTrue treats its address as verified.
        emails: str(u.email) ? [{ email: str(u.email), verified: true, primary: true }] : [],
        metadata: claims({
          iss: `${api}/v1`,
          sub: id,
          name: str(u.display_name),
          picture,
          provider_id: id,
          full_name: str(u.display_name),
          avatar_url: picture,
        }),
      };
    },
  };
}

/** X (and `twitter`, which Trellis serves through X's OAuth 2.0 API rather than OAuth 1.0a). */
function x(base: string): OAuth2Spec {
  const web = origin(base, 'https://x.com');
  const api = origin(base, 'https://api.x.com');
  return {
    kind: 'oauth2',
    authorizeUrl: `${web}/i/oauth2/authorize`,
    tokenUrl: `${api}/2/oauth2/token`,
    scopes: 'users.read tweet.read users.email',
    pkce: true,
    basicAuth: true,
    async profile(getJson, token) {
      const u = obj(
        obj(await getJson(`${api}/2/users/me?user.fields=profile_image_url,confirmed_email,name,username`, token)).data,
      );
      const id = str(u.id);
      const email = str(u.confirmed_email);
      return {
        subject: id,
        emails: email ? [{ email, verified: true, primary: true }] : [],
        metadata: claims({
          iss: `${api}/2`,
          sub: id,
          name: str(u.name),
          preferred_username: str(u.username),
          picture: str(u.profile_image_url),
          provider_id: id,
          full_name: str(u.name),
          avatar_url: str(u.profile_image_url),
          user_name: str(u.username),
        }),
      };
    },
  };
}

/** The spec of a configured provider; `url` replaces the default issuer or host. */
export function providerSpec(config: ExternalProviderConfig): ProviderSpec {
  const oidc = (issuer: string, scopes = 'openid email profile', formPost?: boolean): OidcSpec => ({
    kind: 'oidc',
    issuer: origin(config.url, issuer),
    scopes,
    ...(formPost ? { formPost } : {}),
  });
  switch (config.name) {
    case 'github':
      return github(config.url);
    case 'gitlab':
      return gitlab(config.url);
    case 'discord':
      return discord(config.url);
    case 'facebook':
      return facebook(config.url);
    case 'spotify':
      return spotify(config.url);
    case 'x':
    case 'twitter':
      return x(config.url);
    case 'google':
      return oidc('https://accounts.google.com');
    case 'apple':
      return oidc('https://appleid.apple.com', 'openid name email', true);
    case 'azure':
      // A tenant's issuer (https://login.microsoftonline.com/<tenant>/v2.0): the multi-tenant
      // "common" endpoint issues tokens under each tenant's issuer, which discovery cannot check.
      return oidc('https://login.microsoftonline.com/common/v2.0');
    case 'linkedin_oidc':
      return oidc('https://www.linkedin.com/oauth');
    case 'slack_oidc':
      return oidc('https://slack.com');
    default:
      // keycloak and the generic providers: `url` is the issuer (required by the config).
      return oidc(config.url, 'openid email profile');
  }
}
