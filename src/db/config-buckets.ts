/**
 * config.toml's [storage.buckets.*], as `supabase start` and `supabase db reset` apply them: each
 * bucket made when missing and its listed properties set when it exists (the CLI overwrites them
 * without asking when not interactive). Objects (objects_path) are not uploaded.
 */
import type pg from 'pg';

/** One bucket; an undefined property keeps an existing bucket's value, or a new one's default. */
export interface BucketSpec {
  readonly name: string;
  readonly public: boolean | undefined;
  readonly fileSizeLimit: number | undefined;
  readonly allowedMimeTypes: readonly string[] | undefined;
  /** Its store ([storage.stores.<name>], or `default`); undefined keeps the bucket's. */
  readonly store?: string | undefined;
}

/** Makes or updates the buckets; returns what it did to each, for the start's log. */
export async function applyConfigBuckets(client: pg.PoolClient, buckets: readonly BucketSpec[]): Promise<string[]> {
  const done: string[] = [];
  for (const bucket of buckets) {
    const values = [bucket.name, bucket.public ?? null, bucket.fileSizeLimit ?? null, bucket.allowedMimeTypes ?? null];
    // Matched by name, as the CLI matches them (an id may differ from the name).
    const updated = await client.query(
      `update storage.buckets set public = coalesce($2, public), file_size_limit = coalesce($3::bigint, file_size_limit),
         allowed_mime_types = coalesce($4::text[], allowed_mime_types), updated_at = now()
       where name = $1`,
      values,
    );
    if (updated.rowCount) {
      done.push(`updated storage bucket ${bucket.name}`);
    } else {
      await client.query(
        `insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
         values ($1, $1, coalesce($2, false), $3::bigint, $4::text[])`,
        values,
      );
      done.push(`created storage bucket ${bucket.name}`);
    }
    if (bucket.store !== undefined) done.push(...(await applyStore(client, bucket.name, bucket.store)));
  }
  return done;
}

/**
 * Names the bucket's store. A bucket that holds objects keeps the store they are in: switching it
 * here would leave every row without its bytes; `trellis storage move` copies them first.
 */
async function applyStore(client: pg.PoolClient, name: string, store: string): Promise<string[]> {
  const bucket = (await client.query<{ id: string }>('select id from storage.buckets where name = $1', [name])).rows[0];
  if (!bucket) return [];
  const current =
    (await client.query<{ store: string }>('select store from trellis.bucket_stores where bucket_id = $1', [bucket.id]))
      .rows[0]?.store ?? 'default';
  if (current === store) return [];
  const used = await client.query('select 1 from storage.objects where bucket_id = $1 limit 1', [bucket.id]);
  if (used.rowCount)
    return [
      `storage bucket ${name} stays in store "${current}" (config.toml names "${store}"): it holds objects; \`trellis storage move ${bucket.id} --to ${store}\` moves them`,
    ];
  await client.query(
    `insert into trellis.bucket_stores (bucket_id, store) values ($1, $2)
     on conflict (bucket_id) do update set store = excluded.store, previous = null, updated_at = now()`,
    [bucket.id, store],
  );
  return [`storage bucket ${name} keeps its bytes in store "${store}"`];
}
