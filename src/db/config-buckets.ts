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
      continue;
    }
    await client.query(
      `insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
       values ($1, $1, coalesce($2, false), $3::bigint, $4::text[])`,
      values,
    );
    done.push(`created storage bucket ${bucket.name}`);
  }
  return done;
}
