/**
 * The login role requests run under. The server's own login (the embedded superuser, or the
 * DATABASE_URL user) may become any role; a request's connection must not: a project function that
 * runs dynamic SQL as `anon` could otherwise `set role postgres`. So requests connect as a role of
 * their own, NOINHERIT and a member of only anon, authenticated and service_role, as Supabase's
 * `authenticator` is. Roles belong to the whole server, so the name carries the database's. The
 * password is random, kept in `trellis.request_roles` for the other instances, and sent to the
 * server only as a SCRAM verifier, so statement logs never hold it.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { FatalError, errorMessage } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import type { Db } from './pool.js';
import { ident } from './sql.js';

const LOCK_KEY = '32772479246854516';

export async function prepareRequestRole(db: Db, serverUrl: string, log: Logger): Promise<string | undefined> {
  let name = '';
  let password = '';
  try {
    await db.withConnection(async (client) => {
      await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
      try {
        const database = (await client.query<{ d: string }>('select current_database() as d')).rows[0]?.d ?? '';
        name = `trellis_request_${crypto.createHash('sha256').update(database).digest('hex').slice(0, 16)}`;
        const stored = (
          await client.query<{ password: string }>('select password from trellis.request_roles where role_name = $1', [
            name,
          ])
        ).rows[0];
        const exists = ((await client.query('select 1 from pg_roles where rolname = $1', [name])).rowCount ?? 0) > 0;
        if (stored && exists) {
          password = stored.password;
          return;
        }
        password = crypto.randomBytes(24).toString('hex');
        const role = ident(name);
        try {
          await client.query(
            `${exists ? 'alter' : 'create'} role ${role} with login noinherit password '${scramVerifier(password)}'`,
          );
          await client.query(`grant anon, authenticated, service_role to ${role}`);
          await client.query(
            `insert into trellis.request_roles (role_name, password) values ($1, $2) on conflict (role_name) do update set password = excluded.password`,
            [name, password],
          );
        } catch (err) {
          // A half-made role (created, but the grants refused) must not stay behind.
          if (!exists) await client.query(`drop role if exists ${role}`).catch(() => undefined);
          throw err;
        }
      } finally {
        await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]);
      }
    });
  } catch (err) {
    if ((err as { code?: string }).code !== '42501')
      throw new FatalError(`cannot set up the login role for requests: ${errorMessage(err)}`);
    log.warn(
      { err: errorMessage(err) },
      'the database user may not create roles or grant anon/authenticated/service_role: requests use the server login, which can become any role',
    );
    return undefined;
  }
  const url = new URL(serverUrl);
  url.username = name;
  url.password = password;
  // A role that cannot log in (pg_hba rules, a pooler's user list) must not take every request down.
  const probe = new pg.Client({ connectionString: url.toString(), connectionTimeoutMillis: 5000 });
  try {
    await probe.connect();
    await probe.query('select 1');
  } catch (err) {
    log.warn(
      { err: errorMessage(err) },
      `the login role ${name} cannot connect: requests use the server login, which can become any role`,
    );
    return undefined;
  } finally {
    await probe.end().catch(() => undefined);
  }
  return url.toString();
}

/** A SCRAM-SHA-256 verifier (what PostgreSQL stores), so the password itself is never sent. */
export function scramVerifier(password: string): string {
  const salt = crypto.randomBytes(16);
  const iterations = 4096;
  const salted = crypto.pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  const clientKey = crypto.createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = crypto.createHash('sha256').update(clientKey).digest();
  const serverKey = crypto.createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}
