/**
 * The login role requests run under. The server's own login (the embedded superuser, or the
 * DATABASE_URL user) may become any role; a request's connection must not: a project function that
 * runs dynamic SQL as `anon` could otherwise `set role postgres`. So requests connect as a role of
 * their own, NOINHERIT and a member of only anon, authenticated and service_role, as Supabase's
 * `authenticator` is. Roles belong to the whole server, so the name carries the database's, and
 * the password is derived from the JWT secret, which every instance of a project shares.
 */
import crypto from 'node:crypto';
import type { Logger } from '../platform/logger.js';
import type { Db } from './pool.js';

export async function prepareRequestRole(db: Db, serverUrl: string, jwtSecret: string, log: Logger): Promise<string | undefined> {
  const { rows } = await db.query<{ database: string }>('select current_database() as database');
  const database = rows[0]?.database ?? '';
  const name = `trellis_request_${crypto.createHash('sha256').update(database).digest('hex').slice(0, 16)}`;
  // Hex: safe to write as a literal (role statements take no parameters).
  const password = crypto.createHmac('sha256', jwtSecret).update(`request role ${name}`).digest('hex');
  const quoted = `"${name}"`;
  try {
    await db.withConnection(async (client) => {
      await client.query('select pg_advisory_lock(32772479246854516)');
      try {
        const exists = await client.query('select 1 from pg_roles where rolname = $1', [name]);
        await client.query(`${exists.rowCount ? 'alter' : 'create'} role ${quoted} with login noinherit password '${password}'`);
        await client.query(`grant anon, authenticated, service_role to ${quoted}`);
        await client.query(`grant connect on database "${database.replaceAll('"', '""')}" to ${quoted}`);
      } finally {
        await client.query('select pg_advisory_unlock(32772479246854516)');
      }
    });
  } catch (err) {
    log.warn(
      { err: (err as Error).message },
      'cannot create the login role requests run under (the database user needs CREATEROLE); requests use the server login, which can become any role',
    );
    return undefined;
  }
  const url = new URL(serverUrl);
  url.username = name;
  url.password = password;
  return url.toString();
}
