/**
 * Which reads of a relation may be cached, and whose answers may be shared, from what the
 * catalog says a read of it evaluates (policies.ts reads it). Pure.
 *
 * A read evaluates the relation, every view below it and every table those read, and the read
 * policies (SELECT or ALL) of each table with row-level security, and the subqueries of those
 * policies. The rules, conservative on purpose (docs/rest-cache.md):
 * - Every relation reached is a table or a view (a materialised view, foreign table or sequence
 *   changes without a WAL change Trellis hears), and every table reached is in the
 *   supabase_realtime publication, whose changes are the only ones the WAL stream carries.
 * - The expressions call no function outside pg_catalog but auth.uid(), auth.role(), auth.jwt()
 *   and auth.email(): any other function may read tables no dependency records.
 * - They read no setting but the JWT's claims (`current_setting('request.headers')` would make
 *   an answer depend on a header the key does not hold).
 * - Claims-free (one answer per role, shared by every user of it) only if they call none of the
 *   auth functions, read no `request.jwt` setting and name no `auth.` object; otherwise the key
 *   holds the caller's claims, so an answer is only ever served to the same claims.
 */

export interface RelationReach {
  /** `schema.name` with pg_class.relkind, and for tables whether they are published. */
  readonly relations: readonly { readonly name: string; readonly kind: string; readonly published: boolean }[];
  /** The expressions: view definitions and read policies. */
  readonly texts: readonly string[];
  /** `schema.name` of every function they call. */
  readonly functions: readonly string[];
}

export type Cacheability =
  | { readonly cacheable: true; readonly tables: readonly string[]; readonly claimsFree: boolean }
  | { readonly cacheable: false; readonly why: string };

const CLAIM_FUNCTIONS = new Set(['auth.uid', 'auth.role', 'auth.jwt', 'auth.email']);
const SETTING = /\bcurrent_setting\s*\(/gi;
const CLAIMS_SETTING = /\bcurrent_setting\s*\(\s*'request\.jwt\./gi;
const NAMES_AUTH = /(^|[^a-z0-9_$])"?auth"?\s*\./i;

export function classifyReach(reach: RelationReach): Cacheability {
  for (const r of reach.relations) {
    if (r.kind !== 'r' && r.kind !== 'p' && r.kind !== 'v')
      return { cacheable: false, why: `${r.name} is not a table or view, so its changes are not in the WAL stream` };
    if (r.kind !== 'v' && !r.published)
      return {
        cacheable: false,
        why: `${r.name} is not in the supabase_realtime publication, so its changes are not in the WAL stream (alter publication supabase_realtime add table ${r.name})`,
      };
  }
  const other = reach.functions.find((f) => !f.startsWith('pg_catalog.') && !CLAIM_FUNCTIONS.has(f));
  if (other) return { cacheable: false, why: `a view or read policy calls ${other}(), which may read anything` };
  for (const text of reach.texts) {
    const settings = text.match(SETTING)?.length ?? 0;
    const claims = text.match(CLAIMS_SETTING)?.length ?? 0;
    if (settings > claims)
      return { cacheable: false, why: 'a view or read policy reads a setting other than the JWT claims' };
  }
  const claimsFree =
    !reach.functions.some((f) => CLAIM_FUNCTIONS.has(f)) &&
    !reach.texts.some((t) => (t.match(CLAIMS_SETTING)?.length ?? 0) > 0 || NAMES_AUTH.test(t));
  const tables = reach.relations.filter((r) => r.kind !== 'v').map((r) => r.name);
  return { cacheable: true, tables: [...new Set(tables)].sort(), claimsFree };
}
