/**
 * Auth hooks' targets, as GoTrue accepts them (internal/conf HookConfiguration): a Postgres
 * function `pg-functions://<database>/<schema>/<function>`, or an HTTP endpoint, `https://…`
 * anywhere or `http://` on the local machine only, signed with standard-webhooks secrets
 * `v1,whsec_<base64>` (several separated by `|`). Pure: config.ts turns problems into start-up errors.
 */

export const HOOK_NAMES = [
  'customAccessToken',
  'sendEmail',
  'sendSms',
  'mfaVerificationAttempt',
  'passwordVerificationAttempt',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export type HookTarget =
  | { readonly kind: 'pg'; readonly uri: string; readonly schema: string; readonly fn: string }
  | { readonly kind: 'http'; readonly uri: string; readonly url: string; readonly secrets: readonly Buffer[] };

// GoTrue's postgresNamesRegexp: an unquoted PostgreSQL name, at most 63 characters.
const PG_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,62}$/;
// GoTrue's symmetric secret format (the asymmetric `v1a,whpk_…` is refused: GoTrue cannot sign with it either).
const SECRET = /^v1,whsec_([A-Za-z0-9+/=]{32,88})$/;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', 'host.docker.internal']);

/** The target `uri` names, or a message saying what is wrong with it. */
export function parseHookUri(uri: string): { kind: 'pg'; schema: string; fn: string } | { kind: 'http' } | string {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be pg-functions://postgres/<schema>/<function> or an http(s):// URL';
  }
  switch (url.protocol) {
    case 'pg-functions:': {
      const [, schema, fn] = url.pathname.split('/');
      if (schema === undefined || fn === undefined || fn === '')
        return 'must be pg-functions://postgres/<schema>/<function>';
      if (!PG_NAME.test(schema)) return `invalid schema name: ${schema.slice(0, 80)}`;
      if (!PG_NAME.test(fn)) return `invalid function name: ${fn.slice(0, 80)}`;
      return { kind: 'pg', schema, fn };
    }
    case 'http:':
      return LOOPBACK.has(url.hostname) ? { kind: 'http' } : 'http:// hooks must be on localhost; use https://';
    case 'https:':
      return { kind: 'http' };
    default:
      return 'only pg-functions:// and http(s):// hooks are supported';
  }
}

/** The signing keys of `secrets` (`v1,whsec_<base64>`, `|`-separated), or a message. */
export function parseHookSecrets(secrets: string): Buffer[] | string {
  const keys: Buffer[] = [];
  for (const part of secrets.split('|')) {
    if (part === '') continue;
    const match = SECRET.exec(part);
    if (!match?.[1]) return 'invalid secret format: each must be v1,whsec_<base64> (standard-webhooks)';
    keys.push(Buffer.from(match[1], 'base64'));
  }
  return keys;
}

/** A hook's target from its three settings; undefined when it is off. */
export function hookTarget(
  enabled: boolean,
  uri: string | undefined,
  secrets: string | undefined,
): HookTarget | string | undefined {
  if (!enabled) return undefined;
  if (uri === undefined || uri === '') return 'the hook is enabled but has no uri';
  const parsed = parseHookUri(uri);
  if (typeof parsed === 'string') return parsed;
  if (parsed.kind === 'pg') return { ...parsed, uri };
  const keys = parseHookSecrets(secrets ?? '');
  if (typeof keys === 'string') return keys;
  if (keys.length === 0) return 'an HTTP hook needs secrets (v1,whsec_<base64>) to sign its requests';
  return { kind: 'http', uri, url: uri, secrets: Object.freeze(keys) };
}
