/**
 * The one way Trellis makes an S3 client (the storage backend, backup targets, imports of object
 * files): any S3-compatible service, our own checksums instead of the SDK's, and deadlines.
 * Import this module lazily (`await import`) where S3 is optional: the SDK is slow to load.
 */
import { S3Client } from '@aws-sdk/client-s3';

export interface S3Connection {
  readonly region: string;
  /** Unset for AWS S3. */
  readonly endpoint?: string;
  /** Address the bucket as ENDPOINT/BUCKET (MinIO, s3rver) rather than BUCKET.ENDPOINT. */
  readonly forcePathStyle: boolean;
  /** Unset: the AWS SDK's default credential chain. */
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
}

/** `requestTimeoutMs` is an idle deadline: a socket that carries nothing that long is dropped; a transfer that keeps moving is never cut. */
export function createS3Client(settings: S3Connection, requestTimeoutMs: number): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint && { endpoint: settings.endpoint }),
    forcePathStyle: settings.forcePathStyle,
    ...(settings.accessKeyId &&
      settings.secretAccessKey && {
        credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      }),
    // Checksums the SDK would add by default (CRC32 trailers) are not understood by every
    // S3-compatible service; callers check the bytes with their own hashes.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // A connection must open within 5 s, so an unreachable S3 fails instead of holding the caller.
    requestHandler: { connectionTimeout: 5000, requestTimeout: requestTimeoutMs },
  });
}
