/**
 * AWS Signature Version 4 as S3 checks it (pure): the request's signing facts parsed from the
 * Authorization header or a presigned URL's query, the canonical request, the string to sign and
 * the signature. The secret is looked up by the caller between parsing and verifying.
 */
import crypto from 'node:crypto';
import { S3Errors } from './errors.js';

export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** How far a signed request's date may be from the server's clock (S3's 15 minutes). */
const CLOCK_SKEW_MS = 15 * 60 * 1000;
/** S3's longest presigned URL life: 7 days. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

export interface SignedRequest {
  readonly accessKeyId: string;
  /** yyyymmdd / region / s3 / aws4_request */
  readonly scope: string;
  readonly date: string;
  readonly region: string;
  /** yyyymmddThhmmssZ */
  readonly amzDate: string;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
  /** The hex SHA-256 of the body, UNSIGNED-PAYLOAD or a STREAMING-… mode. */
  readonly payloadHash: string;
  readonly presigned: boolean;
  /** X-Amz-Security-Token (Supabase's session mode carries the user's JWT in it). */
  readonly sessionToken: string | undefined;
}

export interface HttpFacts {
  readonly method: string;
  /** The path as sent, still percent-encoded. */
  readonly rawPath: string;
  /** The query as sent, without `?`. */
  readonly rawQuery: string;
  readonly header: (name: string) => string | undefined;
}

/** The signing facts of a request, or S3's error for a request that is not signed as SigV4 wants. */
export function parseSignedRequest(http: HttpFacts, now: number): SignedRequest {
  const query = new URLSearchParams(http.rawQuery);
  if (query.has('X-Amz-Signature') || query.has('X-Amz-Algorithm')) return parsePresigned(http, query, now);
  const authorization = http.header('authorization');
  if (authorization === undefined) throw S3Errors.accessDenied('Missing Authorization header');
  if (!authorization.startsWith('AWS4-HMAC-SHA256 '))
    throw S3Errors.invalidRequest('Only AWS4-HMAC-SHA256 signatures are supported');
  const fields = new Map<string, string>();
  for (const part of authorization.slice('AWS4-HMAC-SHA256 '.length).split(',')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature)
    throw S3Errors.authorizationHeaderMalformed(
      'The Authorization header needs Credential, SignedHeaders and Signature',
    );
  const amzDate = http.header('x-amz-date') ?? '';
  const scope = parseCredential(credential, amzDate);
  checkClock(amzDate, now);
  const payloadHash = http.header('x-amz-content-sha256');
  if (payloadHash === undefined) throw S3Errors.invalidRequest('Missing required header x-amz-content-sha256');
  if (!validPayloadHash(payloadHash))
    throw S3Errors.invalidArgument('x-amz-content-sha256 must be a hex SHA-256, UNSIGNED-PAYLOAD or a STREAMING mode');
  return {
    ...scope,
    amzDate,
    signedHeaders: headerList(signedHeaders),
    signature,
    payloadHash,
    presigned: false,
    sessionToken: http.header('x-amz-security-token'),
  };
}

function parsePresigned(http: HttpFacts, query: URLSearchParams, now: number): SignedRequest {
  if (query.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256')
    throw S3Errors.invalidRequest('X-Amz-Algorithm must be AWS4-HMAC-SHA256');
  const amzDate = query.get('X-Amz-Date') ?? '';
  const scope = parseCredential(query.get('X-Amz-Credential') ?? '', amzDate);
  const signedHeaders = query.get('X-Amz-SignedHeaders');
  const signature = query.get('X-Amz-Signature');
  const expiresText = query.get('X-Amz-Expires') ?? '';
  if (!signedHeaders || !signature)
    throw S3Errors.accessDenied('Query-string authentication needs X-Amz-SignedHeaders and X-Amz-Signature');
  if (!/^\d{1,7}$/.test(expiresText) || Number(expiresText) < 1 || Number(expiresText) > MAX_PRESIGN_SECONDS)
    throw S3Errors.authorizationQueryParametersError('X-Amz-Expires must be a number of seconds from 1 to 604800');
  const signedAt = amzDateMs(amzDate);
  if (signedAt - now > CLOCK_SKEW_MS) throw S3Errors.accessDenied('Request is not valid yet');
  if (now > signedAt + Number(expiresText) * 1000) throw S3Errors.accessDenied('Request has expired');
  return {
    ...scope,
    amzDate,
    signedHeaders: headerList(signedHeaders),
    signature,
    payloadHash: http.header('x-amz-content-sha256') ?? UNSIGNED_PAYLOAD,
    presigned: true,
    sessionToken: query.get('X-Amz-Security-Token') ?? undefined,
  };
}

function parseCredential(
  credential: string,
  amzDate: string,
): { accessKeyId: string; scope: string; date: string; region: string } {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[3] !== 's3' || parts[4] !== 'aws4_request' || !parts[0])
    throw S3Errors.authorizationHeaderMalformed(
      'The Credential must be <access key id>/<yyyymmdd>/<region>/s3/aws4_request',
    );
  const [accessKeyId, date, region] = parts as [string, string, string];
  if (!/^\d{8}T\d{6}Z$/.test(amzDate)) throw S3Errors.accessDenied('X-Amz-Date must be a date like 20240101T000000Z');
  if (date !== amzDate.slice(0, 8))
    throw S3Errors.authorizationHeaderMalformed('The Credential date does not match X-Amz-Date');
  if (!/^[a-z0-9-]{1,64}$/.test(region))
    throw S3Errors.authorizationHeaderMalformed('The Credential region is invalid');
  return { accessKeyId, scope: parts.slice(1).join('/'), date, region };
}

function amzDateMs(amzDate: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) throw S3Errors.accessDenied('X-Amz-Date must be a date like 20240101T000000Z');
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

function checkClock(amzDate: string, now: number) {
  if (Math.abs(now - amzDateMs(amzDate)) > CLOCK_SKEW_MS) throw S3Errors.requestTimeTooSkewed();
}

function headerList(text: string): string[] {
  const names = text.split(';').map((h) => h.trim().toLowerCase());
  if (!names.includes('host')) throw S3Errors.accessDenied('SignedHeaders must include host');
  if (names.some((n) => !/^[a-z0-9-]{1,128}$/.test(n)) || names.length > 64)
    throw S3Errors.authorizationHeaderMalformed('SignedHeaders is malformed');
  return names;
}

function validPayloadHash(hash: string): boolean {
  return (
    /^[0-9a-f]{64}$/.test(hash) ||
    hash === UNSIGNED_PAYLOAD ||
    hash === STREAMING_SIGNED ||
    hash === STREAMING_SIGNED_TRAILER ||
    hash === STREAMING_UNSIGNED_TRAILER
  );
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is %XX. */
export function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The sorted, encoded query of the canonical request (without the signature of a presigned URL). */
export function canonicalQuery(rawQuery: string): string {
  const pairs: [string, string][] = [];
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const at = piece.indexOf('=');
    const key = decodeQueryPart(at < 0 ? piece : piece.slice(0, at));
    const value = at < 0 ? '' : decodeQueryPart(piece.slice(at + 1));
    if (key === 'X-Amz-Signature') continue;
    pairs.push([uriEncode(key), uriEncode(value)]);
  }
  pairs.sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function decodeQueryPart(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    throw S3Errors.invalidArgument('The query string is not valid percent-encoding');
  }
}

/** S3 signs the path as the client encoded it, each segment encoded once (no double encoding). */
export function canonicalPath(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => {
      try {
        return uriEncode(decodeURIComponent(segment));
      } catch {
        throw S3Errors.invalidArgument('The path is not valid percent-encoding');
      }
    })
    .join('/');
}

export function canonicalRequest(http: HttpFacts, signed: SignedRequest): string {
  const headers = signed.signedHeaders.map((name) => {
    const value = http.header(name);
    if (value === undefined) throw S3Errors.accessDenied(`The signed header ${name} is missing`);
    return `${name}:${value.trim().replace(/\s+/g, ' ')}\n`;
  });
  return [
    http.method,
    canonicalPath(http.rawPath),
    canonicalQuery(http.rawQuery),
    headers.join(''),
    signed.signedHeaders.join(';'),
    signed.payloadHash,
  ].join('\n');
}

export function sha256Hex(data: string | Buffer): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

function hmac(key: Buffer | string, data: string): Buffer {
  return crypto.createHmac('sha256', key).update(data).digest();
}

/** The day's signing key: HMAC chained over date, region, service and "aws4_request". */
export function signingKey(secret: string, date: string, region: string): Buffer {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), 's3'), 'aws4_request');
}

export function requestSignature(http: HttpFacts, signed: SignedRequest, secret: string): string {
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    signed.amzDate,
    signed.scope,
    sha256Hex(canonicalRequest(http, signed)),
  ].join('\n');
  return hmac(signingKey(secret, signed.date, signed.region), stringToSign).toString('hex');
}

/** The signature of one chunk of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body, chained to the one before. */
export function chunkSignature(key: Buffer, signed: SignedRequest, previous: string, chunkSha256: string): string {
  const stringToSign = [
    'AWS4-HMAC-SHA256-PAYLOAD',
    signed.amzDate,
    signed.scope,
    previous,
    EMPTY_SHA256,
    chunkSha256,
  ].join('\n');
  return hmac(key, stringToSign).toString('hex');
}

/** Constant-time comparison of two hex signatures. */
export function sameSignature(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}
