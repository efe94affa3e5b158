/**
 * The SQL editor: a query run as the service (the server login, as Supabase's SQL editor runs as
 * `postgres`: DDL, policies, several statements) or as a chosen user, through the same
 * `withClaims` path as /rest/v1 (role `authenticated`, `request.jwt.claims` as GoTrue's access
 * token would carry them), so row-level security decides what the user sees. Either way under
 * STUDIO_SQL_TIMEOUT_MS, and optionally EXPLAINed instead of run.
 */
import type pg from 'pg';
import { z } from 'zod';
import type { Claims, Db } from '../db/index.js';
import { ApiError } from '../errors.js';
import { asClientError } from './pg-errors.js';

export const sqlRequest = z.object({
  query: z.string().min(1).max(1_000_000),
  role: z.enum(['service', 'user', 'anon']).default('service'),
  userId: z.uuid().optional(),
  explain: z.boolean().default(false),
});
export type SqlRequest = z.output<typeof sqlRequest>;

export interface SqlResult {
  readonly command: string | null;
  readonly rowCount: number | null;
  readonly columns: string[];
  readonly rows: unknown[][];
  /** EXPLAIN's text plan, one line each, when asked. */
  readonly plan?: string[];
  readonly ms: number;
}

/** More rows than this are cut (the editor shows a page, not an export). */
const MAX_ROWS = 1000;

function shape(result: pg.QueryResult, ms: number, explain: boolean): SqlResult {
  const columns = (result.fields ?? []).map((f) => f.name);
  const rows = (result.rows ?? []).slice(0, MAX_ROWS).map((r: Record<string, unknown>) => columns.map((c) => r[c]));
  if (explain)
    return { command: 'EXPLAIN', rowCount: null, columns: [], rows: [], plan: rows.map((r) => String(r[0])), ms };
  return { command: result.command ?? null, rowCount: result.rowCount ?? null, columns, rows, ms };
}

/** GoTrue's access-token claims for a stored user, so policies reading auth.uid() / auth.jwt() see them. */
async function userClaims(db: Db, userId: string): Promise<Claims> {
  const found = await db.query<{
    role: string | null;
    aud: string | null;
    email: string | null;
    phone: string | null;
    app: unknown;
    meta: unknown;
    anon: boolean;
  }>(
    `select role, aud, email, phone, raw_app_meta_data as app, raw_user_meta_data as meta, is_anonymous as anon
       from auth.users where id = $1 and deleted_at is null`,
    [userId],
  );
  const user = found.rows[0];
  if (!user) throw new ApiError(404, 'user_not_found', `no user with id ${userId}`);
  return {
    role: user.role || 'authenticated',
    sub: userId,
    aud: user.aud || 'authenticated',
    email: user.email ?? '',
    phone: user.phone ?? '',
    app_metadata: user.app ?? {},
    user_metadata: user.meta ?? {},
    is_anonymous: user.anon,
  };
}

/** Runs the request; PostgreSQL's own errors (syntax, permission, timeout) come back as 400s with their code. */
export async function runSql(db: Db, request: SqlRequest, timeoutMs: number): Promise<SqlResult> {
  if (request.query.includes('\u0000')) throw new ApiError(400, 'invalid_query', 'the query contains a NUL character');
  const text = request.explain ? `explain ${request.query}` : request.query;
  const started = performance.now();
  try {
    if (request.role === 'service') {
      // The simple protocol: several statements in one text, as psql runs them; the last one's rows answer.
      return await db.withConnection(
        async (client) => {
          await client.query('begin');
          try {
            await client.query(`select set_config('statement_timeout', $1, true)`, [String(timeoutMs)]);
            const results = (await client.query(text)) as pg.QueryResult | pg.QueryResult[];
            await client.query('commit');
            const last = Array.isArray(results) ? results[results.length - 1] : results;
            return shape(last as pg.QueryResult, performance.now() - started, request.explain);
          } catch (err) {
            await client.query('rollback').catch(() => undefined);
            throw err;
          }
          // Discarded after: a `set role` or `set search_path` of the query must not stay on a pooled connection.
        },
        { discard: true },
      );
    }
    if (request.role === 'user' && !request.userId)
      throw new ApiError(400, 'invalid_request', 'role "user" needs a userId');
    const claims: Claims = request.role === 'anon' ? { role: 'anon' } : await userClaims(db, request.userId as string);
    // One statement (the extended protocol), as a data API request runs: the claims cannot be undone by a second one.
    const result = await db.withClaims(claims, async (tx) => {
      await tx.query(`select set_config('statement_timeout', $1, true)`, [String(timeoutMs)]);
      return tx.query(text);
    });
    return shape(result, performance.now() - started, request.explain);
  } catch (err) {
    throw asClientError(err);
  }
}
