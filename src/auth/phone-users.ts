/** auth.users rows found and made by phone number, and their `phone` identity (GoTrue's phone provider). */
import crypto from 'node:crypto';
import type { Tx } from '../db/index.js';
import { stringifyJson } from '../platform/json.js';
import { USER_COLUMNS, type UserRow } from './users.js';

export async function findUserByPhone(tx: Tx, phone: string, lock = false): Promise<UserRow | undefined> {
  const result = await tx.query<UserRow>(
    `select ${USER_COLUMNS} from auth.users where phone = $1 and deleted_at is null${lock ? ' for update' : ''}`,
    [phone],
  );
  return result.rows[0];
}

/** The user waiting to change to `phone` (GoTrue's FindUserByPhoneChangeAndAudience). */
export async function findUserByPhoneChange(tx: Tx, phone: string, lock = false): Promise<UserRow | undefined> {
  const result = await tx.query<UserRow>(
    `select ${USER_COLUMNS} from auth.users where phone_change = $1 and deleted_at is null
     order by updated_at desc limit 1${lock ? ' for update' : ''}`,
    [phone],
  );
  return result.rows[0];
}

export interface NewPhoneUser {
  readonly phone: string;
  readonly passwordHash: string | null;
  readonly userMetadata: Record<string, unknown>;
  readonly confirmed: boolean;
}

/** Inserts a phone user (app_metadata provider "phone") and its identity; the project's triggers run here. */
export async function insertPhoneUser(tx: Tx, user: NewPhoneUser): Promise<UserRow> {
  const id = crypto.randomUUID();
  const result = await tx.query<UserRow>(
    `insert into auth.users (instance_id, id, aud, role, phone, encrypted_password, phone_confirmed_at,
       raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
     values ('00000000-0000-0000-0000-000000000000', $1, 'authenticated', 'authenticated', $2, $3,
       case when $4::boolean then now() end, '{"provider":"phone","providers":["phone"]}'::jsonb, $5::jsonb, now(), now())
     returning ${USER_COLUMNS}`,
    [id, user.phone, user.passwordHash, user.confirmed, stringifyJson(user.userMetadata)],
  );
  await upsertPhoneIdentity(tx, id, user.phone, user.confirmed);
  return result.rows[0] as UserRow;
}

/** The user's `phone` identity, made or brought up to date with its number. */
export async function upsertPhoneIdentity(tx: Tx, userId: string, phone: string, verified: boolean): Promise<void> {
  await tx.query(
    `insert into auth.identities (provider_id, user_id, identity_data, provider, last_sign_in_at)
     values ($1::text, $1::uuid, $2, 'phone', now())
     on conflict (provider_id, provider) do update set
       identity_data = auth.identities.identity_data || excluded.identity_data, updated_at = now()`,
    [userId, { sub: userId, phone, email_verified: false, phone_verified: verified }],
  );
}

/** raw_app_meta_data with "phone" among its providers (and as the provider when there is none yet). */
const WITH_PHONE_PROVIDER = `case
         when coalesce(raw_app_meta_data -> 'providers', '[]'::jsonb) ? 'phone' then raw_app_meta_data
         else jsonb_set(raw_app_meta_data || jsonb_build_object('provider', coalesce(raw_app_meta_data ->> 'provider', 'phone')),
                        '{providers}', coalesce(raw_app_meta_data -> 'providers', '[]'::jsonb) || '["phone"]'::jsonb)
       end`;

/**
 * A pending account's password and user_metadata, set by whoever signed up, gone: its number is
 * being proved by someone who may not be them (GoTrue's RemoveUnconfirmedIdentities resets the
 * metadata too).
 */
export async function dropForeignCredentials(tx: Tx, user: UserRow): Promise<UserRow> {
  const result = await tx.query<UserRow>(
    `update auth.users set encrypted_password = null, raw_user_meta_data = '{}'::jsonb, updated_at = now()
     where id = $1 returning ${USER_COLUMNS}`,
    [user.id],
  );
  return result.rows[0] as UserRow;
}

/**
 * Marks the user's number as proved: phone_confirmed_at, a verified identity, "phone" among the
 * providers of app_metadata, and an anonymous user made permanent (GoTrue's smsVerify).
 */
export async function confirmPhone(tx: Tx, user: UserRow, phone: string): Promise<UserRow> {
  await upsertPhoneIdentity(tx, user.id, phone, true);
  const result = await tx.query<UserRow>(
    `update auth.users set phone = $2, phone_change = '', phone_change_sent_at = null,
       phone_confirmed_at = coalesce(case when phone = $2 then phone_confirmed_at end, now()),
       is_anonymous = false,
       raw_app_meta_data = ${WITH_PHONE_PROVIDER},
       updated_at = now()
     where id = $1 returning ${USER_COLUMNS}`,
    [user.id, phone],
  );
  return result.rows[0] as UserRow;
}

/**
 * The admin API's phone (GoTrue's AdminUserCreate / AdminUserUpdate): the number is set as given,
 * confirmed when `confirm` is (or when it is the user's confirmed number already), and kept in
 * the user's `phone` identity. A number another user has is the caller's to check first.
 */
export async function adminSetPhone(tx: Tx, user: UserRow, phone: string, confirm: boolean): Promise<UserRow> {
  const confirmed = confirm || (user.phone === phone && user.phone_confirmed_at !== null);
  const result = await tx.query<UserRow>(
    `update auth.users set phone = $2,
       phone_confirmed_at = case when $3::boolean then coalesce(case when phone = $2 then phone_confirmed_at end, now()) end,
       raw_app_meta_data = ${WITH_PHONE_PROVIDER},
       updated_at = now()
     where id = $1 returning ${USER_COLUMNS}`,
    [user.id, phone, confirmed],
  );
  await upsertPhoneIdentity(tx, user.id, phone, confirmed);
  return result.rows[0] as UserRow;
}
