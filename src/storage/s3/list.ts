/**
 * ListObjectsV2's query (pure): keys under a prefix in S3's order (bytewise, collate "C"), keys
 * sharing a part up to the delimiter rolled into one common prefix, after a start key or a
 * continuation token, one row more than the page so the answer knows whether it is truncated.
 */
import { S3Errors } from './errors.js';

export interface ListOptions {
  readonly prefix: string;
  readonly delimiter: string;
  readonly maxKeys: number;
  /** Keys (and common prefixes) after this one. */
  readonly after: string;
  readonly continuationToken: string | undefined;
  readonly startAfter: string | undefined;
  readonly encodingType: 'url' | undefined;
}

export interface ListRow {
  readonly key: string;
  readonly is_prefix: boolean;
  readonly metadata: { eTag?: string; size?: number; lastModified?: string } | null;
  readonly updated_at: Date | null;
}

const MAX_KEYS = 1000;

export function listOptions(query: URLSearchParams): ListOptions {
  const text = (name: string) => {
    const value = query.get(name);
    if (value !== null && (value.includes('\u0000') || Buffer.byteLength(value) > 1024))
      throw S3Errors.invalidArgument(`${name} must be at most 1024 bytes, without NUL`);
    return value ?? undefined;
  };
  const maxText = query.get('max-keys');
  if (maxText !== null && !/^\d{1,9}$/.test(maxText)) throw S3Errors.invalidArgument('max-keys must be a whole number');
  const encoding = query.get('encoding-type');
  if (encoding !== null && encoding !== 'url')
    throw S3Errors.invalidArgument('Invalid Encoding Method specified in Request');
  const token = text('continuation-token');
  const startAfter = text('start-after') ?? text('marker');
  let after = startAfter ?? '';
  if (token !== undefined) {
    const decoded = Buffer.from(token, 'base64url').toString('utf8');
    if (token === '' || Buffer.from(decoded).toString('base64url') !== token)
      throw S3Errors.invalidArgument('The continuation token provided is incorrect');
    after = decoded;
  }
  return {
    prefix: text('prefix') ?? '',
    delimiter: text('delimiter') ?? '',
    maxKeys: Math.min(maxText === null ? MAX_KEYS : Number(maxText), MAX_KEYS),
    after,
    continuationToken: token,
    startAfter,
    encodingType: encoding === 'url' ? 'url' : undefined,
  };
}

export function continuationTokenOf(key: string): string {
  return Buffer.from(key).toString('base64url');
}

export function planS3List(bucket: string, options: ListOptions): { text: string; values: unknown[] } {
  const like = `${options.prefix.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
  // $3: the delimiter; $4: the prefix's length in characters. A key whose rest (after the prefix)
  // holds the delimiter is listed as the prefix up to and including its first delimiter.
  const text = `
    select key, bool_or(is_prefix) as is_prefix, (array_agg(metadata))[1] as metadata, max(updated_at) as updated_at
    from (
      select case when $3 <> '' and strpos(substr(name, $4 + 1), $3) > 0
               then substr(name, 1, $4 + strpos(substr(name, $4 + 1), $3) + length($3) - 1)
               else name end as key,
             $3 <> '' and strpos(substr(name, $4 + 1), $3) > 0 as is_prefix,
             metadata, updated_at
      from storage.objects
      where bucket_id = $1 and name like $2 escape '\\' and version is not null
    ) entries
    where key collate "C" > $5
    group by key
    order by key collate "C"
    limit $6`;
  return {
    text,
    values: [bucket, like, options.delimiter, [...options.prefix].length, options.after, options.maxKeys + 1],
  };
}
