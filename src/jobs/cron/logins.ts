/**
 * The login a job's command runs under. pg_cron connects as the job's user; Trellis has no user's
 * password, and `set role` on the server's own login would not hold (a command could `reset role`
 * back to it). So each job owner gets a login of its own, NOINHERIT and a member of that role only:
 * the run connects with it and `set role`s to the owner, and a `reset role` in the command leaves it
 * with no privileges at all. A superuser's job runs on the server login, as pg_cron runs it as that
 * superuser. Like the request login (src/db/request-role.ts), the password is random and kept in
 * `trellis.cron_logins` for the other instances; roles belong to the whole server, so the name
 * carries the database's.
 */
import crypto from 'node:crypto';
import { ident, isPgError, scramVerifier, type Db } from '../../db/index.js';

const LOCK_KEY = '32772479246854520';

export interface RunLogin {
  /** The connection string the run opens. */
  readonly url: string;
  /** The role the run becomes before the command (none: a superuser's job, run as the server login). */
  readonly role?: string;
  /** True when no login of its own could be made: the command runs after `set role` on the server login. */
  readonly shared?: boolean;
}

export interface RunLogins {
  loginFor(username: string): Promise<RunLogin>;
  /** Forgets a cached login (its connection was refused: another instance may have remade it). */
  forget(username: string): void;
}

export function createRunLogins(db: Db, serverUrl: string, onShared: (reason: string) => void): RunLogins {
  const cache = new Map<string, Promise<RunLogin>>();
  const resolve = async (username: string): Promise<RunLogin> => {
    const { rows } = await db.query<{ rolsuper: boolean }>('select rolsuper from pg_roles where rolname = $1', [
      username,
    ]);
    if (!rows[0]) throw new Error(`role "${username}" does not exist`);
    if (rows[0].rolsuper) return { url: serverUrl };
    try {
      const { name, password } = await ownLogin(db, username);
      const url = new URL(serverUrl);
      url.username = name;
      url.password = password;
      return { url: url.toString(), role: username };
    } catch (err) {
      // The server login may not create roles or grant this one (a managed server's user): `set role`.
      if (!isPgError(err) || (err.code !== '42501' && err.code !== '0LP01')) throw err;
      onShared(err.message);
      return { url: serverUrl, role: username, shared: true };
    }
  };
  return {
    loginFor(username) {
      let login = cache.get(username);
      if (!login) {
        login = resolve(username);
        cache.set(username, login);
        login.catch(() => cache.delete(username));
      }
      return login;
    },
    forget: (username) => void cache.delete(username),
  };
}

function ownLogin(db: Db, username: string): Promise<{ name: string; password: string }> {
  return db.withConnection(async (client) => {
    await client.query('select pg_advisory_lock($1)', [LOCK_KEY]);
    try {
      const database = (await client.query<{ d: string }>('select current_database() as d')).rows[0]?.d ?? '';
      const name = `trellis_cron_${crypto.createHash('sha256').update(`${database}\u0000${username}`).digest('hex').slice(0, 16)}`;
      const stored = (
        await client.query<{ password: string }>('select password from trellis.cron_logins where role_name = $1', [
          name,
        ])
      ).rows[0];
      const member = await client.query(
        `select 1 from pg_auth_members m join pg_roles r on r.oid = m.roleid join pg_roles l on l.oid = m.member
          where l.rolname = $1 and r.rolname = $2`,
        [name, username],
      );
      if (stored && (member.rowCount ?? 0) > 0) return { name, password: stored.password };
      const exists = ((await client.query('select 1 from pg_roles where rolname = $1', [name])).rowCount ?? 0) > 0;
      const password = crypto.randomBytes(24).toString('hex');
      await client.query('begin');
      try {
        await client.query(
          `${exists ? 'alter' : 'create'} role ${ident(name)} with login noinherit password '${scramVerifier(password)}'`,
        );
        await client.query(`grant ${ident(username)} to ${ident(name)}`);
        await client.query(
          `insert into trellis.cron_logins (role_name, owner_name, password) values ($1, $2, $3)
           on conflict (role_name) do update set password = excluded.password`,
          [name, username, password],
        );
        await client.query('commit');
      } catch (err) {
        await client.query('rollback').catch(() => undefined);
        throw err;
      }
      return { name, password };
    } finally {
      await client.query('select pg_advisory_unlock($1)', [LOCK_KEY]);
    }
  });
}
