/** The SQL of web push, as plain text (tables: src/sql/0150_push.sql). */

/** The database's key pair, made by the first instance to start; the others keep theirs out. */
export const VAPID_KEEP = `
insert into trellis.push_vapid_keys (public_key, private_key) values ($1, $2)
    on conflict (singleton) do nothing`;

export const VAPID_READ = `select public_key, private_key from trellis.push_vapid_keys`;

export const SUBSCRIPTION_BY_ID = `select id::text, endpoint, p256dh, auth from trellis.push_subscriptions where id = $1`;

/** An expired subscription goes, unless the browser subscribed again meanwhile (the same endpoint, new keys). */
export const SUBSCRIPTION_DELETE = `delete from trellis.push_subscriptions where id = $1 and endpoint = $2`;
