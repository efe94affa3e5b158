/** auth.users rows and the user object GoTrue returns for them. */
import crypto from 'node:crypto';
import type { Tx } from '../db/index.js';
import { stringifyJson } from '../platform/json.js';

export interface UserRow {
  id: string;
  aud: string | null;
  role: string | null;
  email: string | null;
  encrypted_password: string | null;
  email_confirmed_at: Date | null;
  invited_at: Date | null;
  confirmation_sent_at: Date | null;
  recovery_sent_at: Date | null;
  email_change: string | null;
  email_change_sent_at: Date | null;
  last_sign_in_at: Date | null;
  raw_app_meta_data: Record<string, unknown>;
  raw_user_meta_data: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  phone: string | null;
  phone_confirmed_at: Date | null;
  /** A number waiting for its phone_change code ('' or null: none). */
  phone_change: string | null;
  confirmed_at: Date | null;
  banned_until: Date | null;
  is_anonymous: boolean;
}

interface IdentityRow {
  id: string;
  provider_id: string;
  user_id: string;
  identity_data: Record<string, unknown>;
  provider: string;
  last_sign_in_at: Date | null;
  created_at: Date;
  updated_at: Date;
  email: string | null;
}

interface FactorRow {
  id: string;
  friendly_name: string | null;
  factor_type: string;
  phone: string | null;
  status: string;
  created_at: Date;
  updated_at: Date;
}

export const USER_COLUMNS = `id, aud, role, email, encrypted_password, email_confirmed_at, invited_at, confirmation_sent_at,
  recovery_sent_at, email_change, email_change_sent_at, last_sign_in_at, raw_app_meta_data, raw_user_meta_data,
  created_at, updated_at, phone, phone_confirmed_at, phone_change, confirmed_at, banned_until, is_anonymous`;

// No whitespace, control characters or the specials RFC 5322 only allows quoted.
const EMAIL =
  /^[^\s\u0000-\u001f\u007f@"<>()[\]\\,;:]+@[^\s\u0000-\u001f\u007f@"<>()[\]\\,;:]+\.[^\s\u0000-\u001f\u007f@"<>()[\]\\,;:]+$/;

/** GoTrue lower-cases and trims emails; returns undefined when the address is not plausible. */
export function normaliseEmail(email: string): string | undefined {
  const trimmed = email.trim().toLowerCase();
  return trimmed.length <= 255 && EMAIL.test(trimmed) ? trimmed : undefined;
}

export async function findUserByEmail(tx: Tx, email: string, lock = false): Promise<UserRow | undefined> {
  const result = await tx.query<UserRow>(
    `select ${USER_COLUMNS} from auth.users where email = $1 and is_sso_user = false and deleted_at is null${lock ? ' for update' : ''}`,
    [email],
  );
  return result.rows[0];
}

export async function findUserById(tx: Tx, id: string, lock = false): Promise<UserRow | undefined> {
  if (!isUuid(id)) return undefined;
  const result = await tx.query<UserRow>(
    `select ${USER_COLUMNS} from auth.users where id = $1 and deleted_at is null${lock ? ' for update' : ''}`,
    [id],
  );
  return result.rows[0];
}

export interface NewUser {
  /** Chosen by an admin; a random UUID otherwise. */
  id?: string;
  email: string | null;
  passwordHash: string | null;
  userMetadata: Record<string, unknown>;
  appMetadata?: Record<string, unknown>;
  confirmed: boolean;
  anonymous?: boolean;
  invited?: boolean;
  /** Whether the email gets an `email` identity (false for a user made by an OAuth sign-in). */
  emailIdentity?: boolean;
}

/** Inserts a user and its email identity; the project's triggers on auth.users run here. */
export async function insertUser(tx: Tx, user: NewUser): Promise<UserRow> {
  const id = user.id ?? crypto.randomUUID();
  const provider = user.anonymous ? undefined : 'email';
  const appMetadata = {
    ...(provider ? { provider, providers: [provider] } : {}),
    ...user.appMetadata,
  };
  const result = await tx.query<UserRow>(
    `insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at, invited_at,
       raw_app_meta_data, raw_user_meta_data, is_anonymous, created_at, updated_at)
     values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2, $3,
       case when $4::boolean then now() end, case when $7::boolean then now() end, $5::jsonb, $6::jsonb, $8, now(), now())
     returning ${USER_COLUMNS}`,
    // Metadata goes as text written by stringifyJson: pg's own JSON.stringify would round big numbers.
    [
      id,
      user.email,
      user.passwordHash,
      user.confirmed,
      stringifyJson(appMetadata),
      stringifyJson(user.userMetadata),
      user.invited ?? false,
      user.anonymous ?? false,
    ],
  );
  if (user.email && user.emailIdentity !== false) await insertEmailIdentity(tx, id, user.email, user.confirmed);
  return result.rows[0] as UserRow;
}

export async function insertEmailIdentity(tx: Tx, userId: string, email: string, verified: boolean): Promise<void> {
  await tx.query(
    `insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
     values ($1::text, $1::uuid, $2, 'email', now())
     on conflict (provider_id, provider) do update set identity_data = excluded.identity_data, updated_at = now()`,
    [userId, { sub: userId, email, email_verified: verified, phone_verified: false }],
  );
}

/** Runs an update and returns the new row. `set` is fixed SQL written in this module, never input. */
export async function updateUser(tx: Tx, id: string, set: string, values: unknown[]): Promise<UserRow> {
  const result = await tx.query<UserRow>(
    `update auth.users set ${set}, updated_at = now() where id = $1 returning ${USER_COLUMNS}`,
    [id, ...values],
  );
  return result.rows[0] as UserRow;
}

/** The user object GoTrue sends: user fields, identities and MFA factors. */
/**
 * The user's identities and factors as two json columns of one row, for `userJson`; `userId` is
 * the SQL expression naming the user (a parameter, or a column of an enclosing statement).
 */
export function userListsSql(userId: string): string {
  return `(select json_agg(i order by i.created_at) from auth.identities i where i.user_id = ${userId}) as identities,
    ${factorsSql(userId)}`;
}

/** The user's MFA factors as the user object lists them (one json column, `factors`). */
export function factorsSql(userId: string): string {
  return `(select json_agg(f order by f.created_at) from (select id, friendly_name, factor_type, phone, status, created_at, updated_at
       from auth.mfa_factors where user_id = ${userId}) f) as factors`;
}

export interface UserLists {
  readonly identities: IdentityRow[] | null;
  readonly factors: FactorRow[] | null;
}

export async function userJson(tx: Tx, user: UserRow): Promise<Record<string, unknown>> {
  // One round trip for both lists: this runs on every sign-in.
  const lists = (await tx.query<UserLists>(`select ${userListsSql('$1')}`, [user.id])).rows[0];
  return userJsonOf(user, lists);
}

/** The user object GoTrue answers with, from the row and its lists. */
export function userJsonOf(user: UserRow, lists: UserLists | undefined): Record<string, unknown> {
  const identities = { rows: (lists?.identities ?? []).map(withDates) };
  const factors = { rows: (lists?.factors ?? []).map(withDates) };
  return {
    id: user.id,
    aud: user.aud ?? 'authenticated',
    role: user.role ?? 'authenticated',
    email: user.email ?? '',
    email_confirmed_at: iso(user.email_confirmed_at),
    phone: user.phone ?? '',
    phone_confirmed_at: iso(user.phone_confirmed_at),
    new_phone: user.phone_change || undefined,
    confirmation_sent_at: iso(user.confirmation_sent_at),
    recovery_sent_at: iso(user.recovery_sent_at),
    new_email: user.email_change || undefined,
    email_change_sent_at: iso(user.email_change_sent_at),
    invited_at: iso(user.invited_at),
    confirmed_at: iso(user.confirmed_at),
    last_sign_in_at: iso(user.last_sign_in_at),
    banned_until: iso(user.banned_until),
    app_metadata: user.raw_app_meta_data,
    user_metadata: user.raw_user_meta_data,
    identities: identities.rows.map((i) => ({
      identity_id: i.id,
      id: i.provider_id,
      user_id: i.user_id,
      identity_data: i.identity_data,
      provider: i.provider,
      last_sign_in_at: iso(i.last_sign_in_at),
      created_at: iso(i.created_at),
      updated_at: iso(i.updated_at),
      email: i.email ?? undefined,
    })),
    factors: factors.rows.length
      ? factors.rows.map((f) => ({
          id: f.id,
          friendly_name: f.friendly_name ?? undefined,
          factor_type: f.factor_type,
          phone: f.phone ?? undefined,
          status: f.status,
          created_at: iso(f.created_at),
          updated_at: iso(f.updated_at),
        }))
      : undefined,
    created_at: iso(user.created_at),
    updated_at: iso(user.updated_at),
    is_anonymous: user.is_anonymous,
  };
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}

/** json_agg gives timestamps as text; the row types (and iso()) expect Dates. */
function withDates<T extends { created_at: Date; updated_at: Date; last_sign_in_at?: Date | null }>(row: T): T {
  const date = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string));
  return {
    ...row,
    created_at: date(row.created_at),
    updated_at: date(row.updated_at),
    ...('last_sign_in_at' in row ? { last_sign_in_at: date(row.last_sign_in_at) } : {}),
  };
}

function iso(date: Date | null | undefined): string | undefined {
  return date ? date.toISOString() : undefined;
}

export function isBanned(user: UserRow): boolean {
  return user.banned_until !== null && user.banned_until.getTime() > Date.now();
}
