/**
 * Storage API errors as storage-api (Supabase's storage server) answers them: the body names the
 * error's own status as text (`statusCode: "404"`), while the HTTP status is 400 for every client
 * error and 500 for server errors (storage-api's error handler: `statusCode === '500' ? 500 : 400`).
 * storage-js reads `statusCode` and `message`; its `exists()` treats HTTP 400 and 404 as "absent".
 */
import { ApiError } from '../errors.js';

export function storageError(
  statusCode: number,
  code: string,
  error: string,
  message: string,
  headers?: Record<string, string>,
): ApiError {
  const http = statusCode >= 500 ? 500 : 400;
  return new ApiError(http, error, message, {
    fields: { statusCode: String(statusCode), code },
    ...(headers && { headers }),
  });
}

export const StorageErrors = {
  bucketNotFound: () => storageError(404, 'NoSuchBucket', 'Bucket not found', 'Bucket not found'),
  objectNotFound: () => storageError(404, 'NoSuchKey', 'not_found', 'Object not found'),
  objectExists: () => storageError(409, 'KeyAlreadyExists', 'Duplicate', 'The resource already exists'),
  bucketExists: () => storageError(409, 'BucketAlreadyExists', 'Duplicate', 'The resource already exists'),
  bucketNotEmpty: () =>
    storageError(409, 'ResourceNotEmpty', 'ResourceNotEmpty', 'The bucket you tried to delete is not empty'),
  invalidBucketName: () => storageError(400, 'InvalidBucketName', 'Invalid Input', 'Bucket name invalid'),
  invalidKey: (key: string) => storageError(400, 'InvalidKey', 'InvalidKey', `Invalid key: ${printable(key)}`),
  // The request is closed after the answer: the rest of the body is not read.
  tooLarge: () =>
    storageError(413, 'EntityTooLarge', 'Payload too large', 'The object exceeded the maximum allowed size', {
      connection: 'close',
    }),
  invalidMimeType: (mime: string) =>
    storageError(415, 'InvalidMimeType', 'invalid_mime_type', `mime type ${printable(mime)} is not supported`),
  accessDenied: (message: string) => storageError(403, 'AccessDenied', 'Unauthorized', message),
  invalidJwt: (message: string) => storageError(400, 'InvalidJWT', 'InvalidJWT', message),
  invalidSignature: (message: string) => storageError(400, 'InvalidSignature', 'InvalidSignature', message),
  missingParameter: (name: string) =>
    storageError(400, 'MissingParameter', 'MissingParameter', `Missing Required Parameter ${name}`),
  invalidRequest: (message: string) => storageError(400, 'InvalidRequest', 'InvalidRequest', message),
  invalidRange: () => storageError(400, 'InvalidRange', 'invalid_range', 'invalid range provided'),
  noContent: () => storageError(400, 'InvalidRequest', 'InvalidRequest', 'No content provided'),
  imageError: (message: string) => storageError(400, 'InvalidRequest', 'InvalidRequest', message),
  internal: (message = 'Internal server error') => storageError(500, 'InternalError', 'internal', message),
};

/** A user's name shown back in a message: bounded and without control characters. */
function printable(text: string): string {
  const clean = text.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > 200 ? `${clean.slice(0, 200)}…` : clean;
}
