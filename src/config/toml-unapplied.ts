/**
 * The supabase/config.toml keys Trellis does not apply, with the value a `supabase init` folder has
 * for each (the Supabase CLI's default). A key left at that value says nothing Trellis fails to do
 * for a Supabase project; a key set otherwise is named in one warning at start, so a setting is
 * never ignored silently. docs/configuration.md gives each one's reason.
 *
 * A `*` stands for one table name chosen by the user (a provider, a hook, a bucket). A table whose
 * `enabled` is false contributes nothing but that key: its other settings are moot.
 */

/** No default: any value set is reported. */
const NONE = Symbol('none');
/**
 * Never reported: every folder sets it, and what Trellis does instead needs no warning (turning off a
 * CLI service Trellis does not run asks for what Trellis does anyway).
 */
const QUIET = Symbol('quiet');

type Default = string | number | boolean | readonly string[] | typeof NONE | typeof QUIET;

const UNAPPLIED: ReadonlyArray<readonly [string, Default]> = [
  ['project_id', QUIET],
  ['api.enabled', true],
  ['api.auto_expose_new_tables', NONE],
  ['api.tls.enabled', false],
  ['api.tls.*', NONE],
  ['db.port', 54322],
  ['db.shadow_port', 54320],
  ['db.health_timeout', '2m'],
  ['db.major_version', QUIET],
  ['db.pooler.enabled', false],
  ['db.pooler.port', 54329],
  ['db.pooler.pool_mode', 'transaction'],
  ['db.pooler.default_pool_size', 20],
  ['db.pooler.max_client_conn', 100],
  ['db.pooler.*', NONE],
  ['db.vault.*', NONE],
  ['db.migrations.enabled', true],
  ['db.migrations.schema_paths', []],
  ['db.network_restrictions.enabled', false],
  ['db.network_restrictions.allowed_cidrs', ['0.0.0.0/0']],
  ['db.network_restrictions.allowed_cidrs_v6', ['::/0']],
  ['db.ssl_enforcement.enabled', false],
  ['db.settings.*', NONE],
  ['realtime.enabled', true],
  ['realtime.ip_version', 'IPv4'],
  ['realtime.max_header_length', 4096],
  ['realtime.*', NONE],
  ['studio.enabled', QUIET],
  ['studio.port', 54323],
  ['studio.api_url', 'http://127.0.0.1'],
  ['studio.openai_api_key', 'env(OPENAI_API_KEY)'],
  ['studio.*', NONE],
  ['inbucket.enabled', QUIET],
  ['inbucket.port', 54324],
  ['inbucket.*', NONE],
  ['storage.enabled', true],
  ['storage.buckets.*.*', NONE],
  ['storage.s3_protocol.enabled', true],
  ['storage.image_transformation.enabled', true],
  ['storage.analytics.enabled', false],
  ['storage.analytics.max_namespaces', 5],
  ['storage.analytics.max_tables', 10],
  ['storage.analytics.max_catalogs', 2],
  ['storage.analytics.buckets.*', NONE],
  ['storage.vector.enabled', false],
  ['storage.vector.max_buckets', 10],
  ['storage.vector.max_indexes', 5],
  ['storage.vector.buckets.*', NONE],
  ['storage.*', NONE],
  ['auth.enabled', true],
  ['auth.external_url', NONE],
  ['auth.jwt_issuer', NONE],
  ['auth.enable_refresh_token_rotation', true],
  ['auth.enable_manual_linking', false],
  ['auth.password_requirements', ''],
  ['auth.rate_limit.web3', 30],
  ['auth.captcha.enabled', false],
  ['auth.captcha.*', NONE],
  ['auth.email.double_confirm_changes', true],
  ['auth.email.otp_length', 6],
  ['auth.email.template.*.*', NONE],
  ['auth.email.notification.*.enabled', false],
  ['auth.email.notification.*.*', NONE],
  ['auth.sms.*.*', NONE],
  ['auth.sessions.*', NONE],
  // The five hooks GoTrue and Trellis run are applied (toml.ts); these are the others (before_user_created, …).
  ['auth.hook.*.enabled', false],
  ['auth.hook.*.*', NONE],
  // [auth.external.<name>]'s keys are applied (src/config/external.ts); others (e.g. a disabled
  // provider's client_id) are read only when the provider is enabled.
  ['auth.external.*.client_id', ''],
  ['auth.external.*.secret', QUIET],
  ['auth.external.*.redirect_uri', ''],
  ['auth.external.*.url', ''],
  ['auth.external.*.skip_nonce_check', false],
  ['auth.external.*.email_optional', false],
  ['auth.external.*.*', NONE],
  ['auth.web3.*.enabled', false],
  ['auth.third_party.*.enabled', false],
  ['auth.third_party.*.*', NONE],
  ['auth.*', NONE],
  ['edge_runtime.enabled', QUIET],
  ['edge_runtime.policy', 'per_worker'],
  ['edge_runtime.inspector_port', 8083],
  ['edge_runtime.deno_version', 2],
  ['edge_runtime.secrets.*', NONE],
  ['functions.*.*', NONE],
  ['analytics.enabled', QUIET],
  ['analytics.port', 54327],
  ['analytics.backend', 'postgres'],
  ['analytics.*', NONE],
  ['experimental.orioledb_version', ''],
  ['experimental.s3_host', 'env(S3_HOST)'],
  ['experimental.s3_region', 'env(S3_REGION)'],
  ['experimental.s3_access_key', 'env(S3_ACCESS_KEY)'],
  ['experimental.s3_secret_key', 'env(S3_SECRET_KEY)'],
  ['experimental.*.*', NONE],
  ['remotes.*.*', NONE],
];

function matches(pattern: readonly string[], key: readonly string[]): boolean {
  // A trailing `*` takes the rest of the key (a table of any depth: a bucket's settings, a secret).
  if (pattern.at(-1) === '*' && key.length >= pattern.length)
    return pattern.slice(0, -1).every((p, i) => p === '*' || p === key[i]);
  return pattern.length === key.length && pattern.every((p, i) => p === '*' || p === key[i]);
}

function sameValue(a: unknown, b: Default): boolean {
  if (Array.isArray(b)) return Array.isArray(a) && a.length === b.length && a.every((v, i) => v === b[i]);
  return a === b;
}

/** Leaf keys (dotted) of a parsed document with their values; arrays and dates are leaves. */
export function leaves(
  table: Readonly<Record<string, unknown>>,
  prefix: readonly string[] = [],
): [string[], unknown][] {
  const out: [string[], unknown][] = [];
  for (const [name, value] of Object.entries(table)) {
    const key = [...prefix, name];
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Date)) {
      const inner = value as Record<string, unknown>;
      // A disabled table's other settings are moot; only its `enabled` can differ from the default.
      if (inner.enabled === false || inner.enabled === 'false') {
        out.push([[...key, 'enabled'], inner.enabled]);
        continue;
      }
      out.push(...leaves(inner, key));
    } else out.push([key, value]);
  }
  return out;
}

/**
 * The keys of `doc` outside `applied` whose value is not the Supabase default, in file order.
 * Values are compared as written, before `env(NAME)` is substituted.
 */
export function unappliedKeys(doc: Readonly<Record<string, unknown>>, applied: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (const [key, value] of leaves(doc)) {
    const dotted = key.join('.');
    if (applied.has(dotted)) continue;
    const entry = UNAPPLIED.find(([pattern]) => matches(pattern.split('.'), key));
    const fallback = entry?.[1] ?? NONE;
    if (fallback === QUIET || (fallback !== NONE && sameValue(value, fallback))) continue;
    out.push(dotted);
  }
  return out;
}
