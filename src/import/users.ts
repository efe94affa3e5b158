/**
 * `--users-table`: an app's own users become auth.users rows (with their email identities, as
 * Trellis's signup makes them), keeping their password hashes so they sign in as before. Every
 * row is checked before anything is written.
 */
import crypto from 'node:crypto';
import type Database from 'better-sqlite3';
import type pg from 'pg';
import { copyRowsIn } from '../db/index.js';
import { FatalError } from '../errors.js';
import { parseDateText } from './sqlite-profile.js';
import type { TablePlan, UsersPlan } from './sqlite-schema.js';

export interface AuthUser {
  readonly id: string;
  readonly email: string;
  readonly hash: string | null;
  readonly createdAt: string | Date;
}

const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;
const ARGON2 = /^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
// Firebase's modified scrypt, as GoTrue and sign-in verify it (src/auth/password-hashes.ts checks the parameters).
const FBSCRYPT =
  /^\$fbscrypt\$v=1,n=\d+,r=\d+,p=\d+(,ss=[A-Za-z0-9+/=]+)?(,sk=[A-Za-z0-9+/=]+)?\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** One auth user per row of the users table, in the plan's read order; refuses the first bad row. */
export function readAuthUsers(db: Database.Database, plan: TablePlan, users: UsersPlan): AuthUser[] {
  const index = (name: string): number => plan.readColumns.indexOf(name);
  const [idAt, emailAt, hashAt] = [index(users.idColumn), index(users.emailColumn), index(users.passwordColumn)];
  const createdAt = users.createdAtColumn ? index(users.createdAtColumn) : -1;
  const keyStmt = db.prepare(plan.selectKey).raw(true).safeIntegers(true);
  const rowName = (n: number): string => {
    const key = keyStmt.get(n) as unknown[] | undefined;
    return `${plan.source} row ${key ? key.map(String).join(', ') : n + 1}`;
  };
  const seen = new Map<string, number>();
  const result: AuthUser[] = [];
  const now = new Date();
  let n = 0;
  for (const row of db.prepare(plan.select).raw(true).safeIntegers(true).iterate() as IterableIterator<unknown[]>) {
    const where = () => `${rowName(n)} (${users.emailColumn} ${JSON.stringify(row[emailAt])})`;
    const raw = row[emailAt];
    if (typeof raw !== 'string' || !EMAIL.test(raw.trim()))
      throw new FatalError(`${where()}: not an email address; every user needs one to sign in (nothing was imported)`);
    const email = raw.trim().toLowerCase();
    if (email.length > 255)
      throw new FatalError(`${where()}: the email is longer than 255 characters (nothing was imported)`);
    const before = seen.get(email);
    if (before !== undefined)
      throw new FatalError(
        `${rowName(before)} and ${rowName(n)} have the same email ${JSON.stringify(email)} (emails are compared trimmed and lowercased; nothing was imported)`,
      );
    seen.set(email, n);
    const hash = row[hashAt];
    if (hash !== null && (typeof hash !== 'string' || !(BCRYPT.test(hash) || ARGON2.test(hash) || FBSCRYPT.test(hash))))
      throw new FatalError(
        `${where()}: ${users.passwordColumn} is not a bcrypt ($2a$/$2b$/$2y$), argon2 or Firebase scrypt ($fbscrypt$) hash, the kinds Trellis verifies (nothing was imported)`,
      );
    const id = users.mode === 'uuid' ? String(row[idAt]).toLowerCase() : crypto.randomUUID();
    const created = createdAt >= 0 ? row[createdAt] : null;
    result.push({
      id,
      email,
      hash: hash,
      createdAt:
        typeof created === 'string' && parseDateText(created)
          ? created
          : typeof created === 'bigint'
            ? new Date(Number(created) * 1000)
            : now,
    });
    n++;
  }
  return result;
}

/** Emails already in auth.users: an import does not take over an existing account. */
export async function existingEmails(client: pg.ClientBase, users: readonly AuthUser[]): Promise<string[]> {
  const { rows } = await client.query<{ email: string }>(
    `select lower(email) as email from auth.users where lower(email) = any($1::text[]) order by 1 limit 5`,
    [users.map((u) => u.email)],
  );
  return rows.map((r) => r.email);
}

/** The users and their email identities, by COPY (auth.users' triggers run for each row). */
export async function insertAuthUsers(
  client: pg.ClientBase,
  users: readonly AuthUser[],
  replace: boolean,
): Promise<void> {
  if (replace)
    await client.query(`delete from auth.users where lower(email) = any($1::text[])`, [users.map((u) => u.email)]);
  const appMeta = { provider: 'email', providers: ['email'] };
  await copyRowsIn(
    client,
    { schema: 'auth', table: 'users' },
    [
      'instance_id',
      'id',
      'aud',
      'role',
      'email',
      'encrypted_password',
      'email_confirmed_at',
      'raw_app_meta_data',
      'raw_user_meta_data',
      'created_at',
      'updated_at',
    ],
    users.map((u) => [
      '00000000-0000-0000-0000-000000000000',
      u.id,
      'authenticated',
      'authenticated',
      u.email,
      u.hash,
      u.createdAt,
      appMeta,
      {},
      u.createdAt,
      u.createdAt,
    ]),
  );
  await copyRowsIn(
    client,
    { schema: 'auth', table: 'identities' },
    ['provider_id', 'user_id', 'identity_data', 'provider', 'created_at', 'updated_at'],
    users.map((u) => [
      u.id,
      u.id,
      { sub: u.id, email: u.email, email_verified: true, phone_verified: false },
      'email',
      u.createdAt,
      u.createdAt,
    ]),
  );
}
