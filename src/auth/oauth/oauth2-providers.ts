/**
 * The plain OAuth 2.0 providers: their endpoints (under a base URL that `url` may replace) and how
 * their profile APIs map onto GoTrue's identity data (internal/api/provider/<name>.go).
 */
import { claims, obj, str, type OAuth2Spec, type ProviderEmail } from './profile.js';

export const origin = (url: string, fallback: string) => (url === '' ? fallback : url);

export function github(base: string): OAuth2Spec {
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

export function gitlab(base: string): OAuth2Spec {
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

export function discord(base: string): OAuth2Spec {
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

export function facebook(base: string): OAuth2Spec {
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

export function spotify(base: string): OAuth2Spec {
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
export function x(base: string): OAuth2Spec {
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
