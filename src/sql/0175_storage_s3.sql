-- The S3 protocol endpoint (/storage/v1/s3, src/storage/s3/): its access keys and its multipart
-- uploads. Nothing here is granted to the API roles: the server reads these tables itself, and a
-- request's object rows are still written as the caller, so storage.objects' RLS decides.

-- Access keys made by `trellis storage keys create`. SigV4 signs with the secret itself (an HMAC
-- key), so the server must be able to recover it: it is kept sealed (AES-256-GCM, a key derived
-- from the JWT secret, as auth.refresh_tokens.sealed), never in plain text, and shown once.
create table if not exists storage.s3_access_keys (
  id text primary key,
  description text not null default '',
  sealed_secret text not null,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);
alter table storage.s3_access_keys enable row level security;
revoke all on storage.s3_access_keys from anon, authenticated, service_role;

-- Supabase's names for an upload in progress and its parts. The parts' bytes are in the object
-- store: in the S3 store's own multipart upload (store_handle), or on the local disk as objects
-- under the upload's own versions; CompleteMultipartUpload joins them into one version.
create table if not exists storage.s3_multipart_uploads (
  id text primary key,
  in_progress_size bigint not null default 0,
  upload_signature text not null default '',
  bucket_id text not null references storage.buckets (id),
  key text not null,
  version text not null,
  owner_id text,
  content_type text not null default 'application/octet-stream',
  cache_control text not null default 'no-cache',
  user_metadata jsonb,
  -- The backing store's own multipart upload (its UploadId on S3); null on the local disk.
  store_handle text,
  created_at timestamptz not null default now()
);
create index if not exists s3_multipart_uploads_bucket on storage.s3_multipart_uploads (bucket_id, key collate "C", created_at);

create table if not exists storage.s3_multipart_uploads_parts (
  id uuid primary key default gen_random_uuid(),
  upload_id text not null references storage.s3_multipart_uploads (id) on delete cascade,
  size bigint not null,
  part_number int not null,
  bucket_id text not null,
  key text not null,
  etag text not null,
  owner_id text,
  version text not null,
  created_at timestamptz not null default now(),
  unique (upload_id, part_number)
);
alter table storage.s3_multipart_uploads enable row level security;
alter table storage.s3_multipart_uploads_parts enable row level security;
revoke all on storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts from anon, authenticated, service_role;
