/**
 * Pure parts of resumable uploads: the upload URL's id and the Upload-Metadata keys.
 * storage-api's upload URL ends in base64url(`<bucket>/<object name>/<version>`); the version is
 * the id of the upload in the data store (a UUID: one flat file or S3 key, whatever the name).
 */
import { StorageErrors } from './errors.js';
import { validBucketId, validObjectName } from './names.js';

export interface ResumableTarget {
  readonly bucket: string;
  readonly name: string;
  /** The upload's id in the data store. */
  readonly version: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeUploadId(target: ResumableTarget): string {
  return Buffer.from(`${target.bucket}/${target.name}/${target.version}`, 'utf8').toString('base64url');
}

/** The target an upload URL's last segment names, or undefined when it names none. */
export function decodeUploadId(segment: string): ResumableTarget | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(segment)) return undefined;
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  const first = text.indexOf('/');
  const last = text.lastIndexOf('/');
  if (first <= 0 || last <= first + 1) return undefined;
  const version = text.slice(last + 1);
  if (!UUID.test(version)) return undefined;
  try {
    return { bucket: validBucketId(text.slice(0, first)), name: validObjectName(text.slice(first + 1, last)), version };
  } catch {
    return undefined;
  }
}

/** What a creation's Upload-Metadata (already base64-decoded by the TUS server) names. */
export interface ResumableMetadata {
  readonly bucket: string;
  readonly name: string;
  readonly contentType: string | undefined;
  /** storage-api's rule: a whole number becomes `max-age=N`, anything else `no-cache`. */
  readonly cacheControl: string;
  /** The `metadata` key: the object's user metadata, as JSON text. */
  readonly userMetadata: string | undefined;
}

export function parseResumableMetadata(metadata: Record<string, string | null> | undefined): ResumableMetadata {
  if (!metadata) throw StorageErrors.invalidRequest('Upload-Metadata with bucketName and objectName is required');
  const bucketName = metadata.bucketName;
  const objectName = metadata.objectName;
  if (!bucketName) throw StorageErrors.missingParameter('bucketName');
  if (!objectName) throw StorageErrors.missingParameter('objectName');
  const cacheControl = metadata.cacheControl ?? '';
  return {
    bucket: validBucketId(bucketName),
    name: validObjectName(objectName),
    contentType: metadata.contentType ?? undefined,
    cacheControl: /^-?\d{1,12}$/.test(cacheControl) ? `max-age=${cacheControl}` : 'no-cache',
    userMetadata: metadata.metadata ?? undefined,
  };
}
