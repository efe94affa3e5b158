/**
 * S3's errors (the codes and HTTP statuses of Amazon's error table, which storage-api's S3
 * endpoint answers too) and their XML body. Storage errors raised by the shared object code
 * (StorageErrors, an ApiError carrying the S3-style code) become the S3 error of the same code.
 */
import { ApiError } from '../../errors.js';
import { xmlEscape } from './xml.js';

export class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'S3Error';
  }
}

const e = (status: number, code: string) => (message: string) => new S3Error(status, code, message);

export const S3Errors = {
  accessDenied: e(403, 'AccessDenied'),
  invalidAccessKeyId: () =>
    new S3Error(403, 'InvalidAccessKeyId', 'The Access Key Id you provided does not exist in our records.'),
  signatureDoesNotMatch: (session = false) =>
    new S3Error(
      403,
      'SignatureDoesNotMatch',
      session
        ? // storage-api's words in session mode.
          'The request signature we calculated does not match the signature you provided, Check your credentials. The session token should be a valid JWT token'
        : 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    ),
  requestTimeTooSkewed: () =>
    new S3Error(
      403,
      'RequestTimeTooSkewed',
      'The difference between the request time and the server time is too large.',
    ),
  expiredToken: e(400, 'ExpiredToken'),
  invalidToken: e(400, 'InvalidToken'),
  authorizationHeaderMalformed: e(400, 'AuthorizationHeaderMalformed'),
  authorizationQueryParametersError: e(400, 'AuthorizationQueryParametersError'),
  invalidArgument: e(400, 'InvalidArgument'),
  invalidRequest: e(400, 'InvalidRequest'),
  malformedXml: () =>
    new S3Error(
      400,
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema.',
    ),
  contentSha256Mismatch: () =>
    new S3Error(
      400,
      'XAmzContentSHA256Mismatch',
      'The provided x-amz-content-sha256 header does not match what was computed.',
    ),
  incompleteBody: () => new S3Error(400, 'IncompleteBody', 'The request body ended before the declared length'),
  noSuchBucket: () => new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist'),
  noSuchKey: () => new S3Error(404, 'NoSuchKey', 'The specified key does not exist.'),
  noSuchUpload: () =>
    new S3Error(
      404,
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    ),
  invalidPart: e(400, 'InvalidPart'),
  invalidPartOrder: () => new S3Error(400, 'InvalidPartOrder', 'The list of parts was not in ascending order.'),
  entityTooSmall: () =>
    new S3Error(400, 'EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.'),
  notImplemented: (what: string) => new S3Error(501, 'NotImplemented', `${what} is not implemented`),
  methodNotAllowed: () =>
    new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.'),
  internal: () => new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.'),
};

/** The statuses of the storage codes the shared object code raises, as S3 answers them. */
const STORAGE_CODE_STATUS: Record<string, number> = {
  NoSuchBucket: 404,
  NoSuchKey: 404,
  KeyAlreadyExists: 409,
  BucketAlreadyExists: 409,
  ResourceNotEmpty: 409,
  InvalidBucketName: 400,
  InvalidKey: 400,
  EntityTooLarge: 400,
  InvalidMimeType: 415,
  AccessDenied: 403,
  InvalidJWT: 400,
  InvalidSignature: 403,
  MissingParameter: 400,
  InvalidRequest: 400,
  InvalidRange: 416,
  InternalError: 500,
};

/** Any error thrown while serving an S3 request, as the S3 error to answer; undefined for a bug. */
export function asS3Error(err: unknown): S3Error | undefined {
  if (err instanceof S3Error) return err;
  if (err instanceof ApiError) {
    const code = typeof err.extra.fields?.code === 'string' ? err.extra.fields.code : err.code;
    const status = STORAGE_CODE_STATUS[code] ?? (err.status >= 500 ? 500 : err.status);
    // S3 names these differently; the SDKs map the names to typed errors.
    const s3Code =
      code === 'ResourceNotEmpty'
        ? 'BucketNotEmpty'
        : code === 'KeyAlreadyExists'
          ? 'PreconditionFailed'
          : code === 'InvalidJWT'
            ? 'InvalidToken'
            : code === 'InvalidSignature'
              ? 'SignatureDoesNotMatch'
              : code;
    return new S3Error(s3Code === 'PreconditionFailed' ? 412 : status, s3Code, err.message, err.extra.headers);
  }
  return undefined;
}

export function errorXml(err: S3Error, resource: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${xmlEscape(err.code)}</Code><Message>${xmlEscape(err.message)}</Message>` +
    `<Resource>${xmlEscape(resource.slice(0, 1100))}</Resource><RequestId>${xmlEscape(requestId)}</RequestId></Error>`
  );
}
