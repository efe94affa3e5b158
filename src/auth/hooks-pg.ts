/**
 * Postgres-function auth hooks: `select <schema>.<function>($1::jsonb)`, as GoTrue's
 * internal/hooks/hookspgfunc runs them, inside the request's transaction when there is one (what
 * the function writes commits or rolls back with the request). The call runs as
 * `supabase_auth_admin`, the role GoTrue connects as, so the grants Supabase's docs tell users to
 * make (`grant execute on function … to supabase_auth_admin`, `revoke … from authenticated, anon,
 * public`) mean here what they mean there; and under a statement_timeout, GoTrue's guard.
 */
import { ident, type Tx } from '../db/index.js';

export const HOOK_ROLE = 'supabase_auth_admin';

/** The function's answer (any JSON, null included); PostgreSQL's error if it fails or times out. */
export async function callPgHook(
  tx: Tx,
  schema: string,
  fn: string,
  body: string,
  timeoutMs: number,
): Promise<unknown> {
  const before = (
    await tx.query<{ role: string; timeout: string }>(
      `select current_setting('role') as role, current_setting('statement_timeout') as timeout`,
    )
  ).rows[0];
  // A savepoint keeps a failing function from poisoning the transaction for the error's own
  // handling; SET LOCAL inside it survives RELEASE, hence the explicit restore below.
  await tx.query('savepoint trellis_auth_hook');
  try {
    await tx.query(`select set_config('role', $1, true), set_config('statement_timeout', $2, true)`, [
      HOOK_ROLE,
      `${timeoutMs}ms`,
    ]);
    const result = await tx.query<{ output: unknown }>(`select ${ident(schema)}.${ident(fn)}($1::jsonb) as output`, [
      body,
    ]);
    await tx.query(`select set_config('role', $1, true), set_config('statement_timeout', $2, true)`, [
      before?.role ?? 'none',
      before?.timeout ?? '0',
    ]);
    await tx.query('release savepoint trellis_auth_hook');
    return result.rows[0]?.output ?? null;
  } catch (err) {
    await tx.query('rollback to savepoint trellis_auth_hook');
    throw err;
  }
}
