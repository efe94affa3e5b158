/**
 * The ObjectStore seam: where object bytes live. Metadata (names, owners, policies) is in
 * PostgreSQL; a store only keeps bytes under a key and never decides who may read them.
 */
import type { Readable } from 'node:stream';

/** One stored copy of an object's bytes. A new upload is a new version; the row names the current one. */
export interface ObjectKey {
  readonly bucket: string;
  readonly name: string;
  readonly version: string;
}

export interface WriteResult {
  readonly size: number;
  /** Hex MD5 of the bytes (what S3 reports as the ETag of a single-part upload). */
  readonly md5: string;
}

/** One stored version as `ObjectStore.list` finds it. */
export interface StoredEntry {
  readonly locator: string;
  readonly size: number;
}

export interface ByteRange {
  readonly start: number;
  /** Inclusive. */
  readonly end: number;
}

/** Thrown by `write` when the body passes `maxBytes`: nothing is left behind. */
export class TooLarge extends Error {
  constructor(readonly limit: number) {
    super(`the object exceeded ${limit} bytes`);
    this.name = 'TooLarge';
  }
}

/** Thrown by `read` when the key has no bytes. */
export class MissingObject extends Error {
  constructor() {
    super('no such stored object');
    this.name = 'MissingObject';
  }
}

/**
 * A store's own multipart writes (S3: CreateMultipartUpload / UploadPart / Complete), used by the
 * S3 protocol endpoint so parts go straight to the backing store and are joined there. A store
 * without it (the local disk) keeps each part as an object of its own and the endpoint joins them
 * with one ordinary write.
 */
export interface PartStore {
  /**
   * Begins a multipart write of `key`; the handle is kept (in the database) to go on later.
   * Undefined: the store of this key has no multipart writes (a bucket on the local disk, beside
   * others on S3); its parts are kept as objects of their own.
   */
  begin(key: ObjectKey, contentType: string): Promise<string | undefined>;
  /** Writes part `partNumber` (1..10000) of exactly `length` bytes; the same number again replaces it. */
  writePart(
    key: ObjectKey,
    handle: string,
    partNumber: number,
    body: Readable,
    options: { length: number; maxBytes: number },
  ): Promise<WriteResult & { readonly etag: string }>;
  /** Joins the parts, in this order, into the bytes of `key` (visible only once joined). */
  complete(key: ObjectKey, handle: string, parts: readonly { partNumber: number; etag: string }[]): Promise<void>;
  /** Drops the write and every part it holds. */
  abort(key: ObjectKey, handle: string): Promise<void>;
}

export interface WriteOptions {
  readonly maxBytes: number;
  readonly contentType: string;
  /**
   * Awaited before the bytes become the object's (renamed into place, or sent to a store that
   * shows them on arrival); if it rejects, the write fails and leaves nothing. The orphan ledger
   * (pending.ts) enters the key meanwhile, while the body streams.
   */
  readonly before?: Promise<unknown>;
}

export interface ObjectStore {
  /**
   * Streams `body` to `key`. Atomic: after a failure (body error, abort, `maxBytes` passed) the key
   * holds nothing; the bytes appear only once all of them are written. Memory stays bounded.
   */
  write(key: ObjectKey, body: Readable, options: WriteOptions): Promise<WriteResult>;
  /**
   * Makes the complete local file `file` the bytes of `key` (a finished resumable upload), as
   * atomically as `write`: hard-linked into place where the store is the same disk, streamed
   * otherwise. The file itself stays where it is: its owner removes it.
   */
  adopt(key: ObjectKey, file: string, options: WriteOptions): Promise<WriteResult>;
  /** The bytes of `key`, or a part of them. */
  read(key: ObjectKey, range?: ByteRange): Promise<Readable>;
  copy(from: ObjectKey, to: ObjectKey): Promise<void>;
  /** Removes keys; missing ones are ignored. */
  remove(keys: readonly ObjectKey[]): Promise<void>;
  /**
   * Removes what a write of these keys that never finished left in staging (a process killed
   * mid-write: the local disk's `.tmp/` file). Absent where nothing is left (S3 drops parts of an
   * upload that is never completed by its own lifecycle rules).
   */
  removeStaged?(keys: readonly ObjectKey[]): Promise<void>;
  /**
   * Where the store keeps `key`, as `list` names it (a file path, an S3 key): for comparing what
   * is stored with what the rows name (`trellis storage verify`).
   */
  locate(key: ObjectKey): string;
  /**
   * Every stored version of `bucket`, as `locate` names them, with its size; never staging
   * (temporary files, unfinished resumable uploads, S3 parts not yet joined).
   */
  list(bucket: string): AsyncIterable<StoredEntry>;
  close(): Promise<void>;
  /** Where the bytes are (`file:///folder`, `s3://endpoint/bucket`): two stores with one location are one store. */
  readonly location?: string;
  /** Present when the store has multipart writes of its own. */
  readonly parts?: PartStore;
}
