/**
 * Who an S3 request is: its SigV4 signature checked against an access key's secret (the request
 * then runs as the service role), or, in Supabase's session mode, against the anon key with the
 * user's JWT as the session token (the request runs under that user's claims, so RLS decides).
 */
import crypto from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import type { Claims } from '../../db/index.js';
import { jwtMessage, nodeRequest, type StorageContext, type StorageHttp } from '../context.js';
import { AwsChunkedDecoder } from './chunked.js';
import { S3Errors } from './errors.js';
import { accessKeySealKey, accessKeySecret } from './keys.js';
import {
  parseSignedRequest,
  requestSignature,
  sameSignature,
  sha256Hex,
  signingKey,
  STREAMING_SIGNED,
  STREAMING_SIGNED_TRAILER,
  STREAMING_UNSIGNED_TRAILER,
  UNSIGNED_PAYLOAD,
  type HttpFacts,
  type SignedRequest,
} from './sigv4.js';

export interface S3Caller {
  readonly claims: Claims;
  readonly signed: SignedRequest;
  readonly secret: string;
}

/** The request as SigV4 sees it: the path and query exactly as they came on the wire. */
export function httpFacts(c: StorageHttp): HttpFacts {
  const raw = nodeRequest(c).url ?? '/';
  const at = raw.indexOf('?');
  const headers = nodeRequest(c).headers;
  return {
    method: c.req.method,
    rawPath: at < 0 ? raw : raw.slice(0, at),
    rawQuery: at < 0 ? '' : raw.slice(at + 1),
    header: (name) => {
      const value = headers[name];
      return Array.isArray(value) ? value.join(',') : value;
    },
  };
}

export async function authenticate(ctx: StorageContext, c: StorageHttp): Promise<S3Caller> {
  const http = httpFacts(c);
  const signed = parseSignedRequest(http, Date.now());
  let secret: string;
  let claims: Claims;
  if (signed.sessionToken !== undefined) {
    // Session mode: the anon key signs, the JWT names the user.
    secret = ctx.services.keys.anonKey;
    checkSignature(http, signed, secret);
    const check = await ctx.services.tokens.checkBearer(signed.sessionToken);
    if (!check.ok) {
      if (check.problem.kind === 'expired') throw S3Errors.expiredToken('The provided token has expired.');
      throw S3Errors.invalidToken(`The provided token is malformed or otherwise invalid: ${jwtMessage(check.problem)}`);
    }
    claims = check.claims;
  } else {
    if (!/^[0-9a-f]{32}$/.test(signed.accessKeyId)) throw S3Errors.invalidAccessKeyId();
    const found = await accessKeySecret(ctx.services.db, sealKeyOf(ctx), signed.accessKeyId);
    if (found === undefined) throw S3Errors.invalidAccessKeyId();
    secret = found;
    checkSignature(http, signed, secret);
    claims = { role: 'service_role' };
  }
  return { claims, signed, secret };
}

const sealKeys = new WeakMap<Uint8Array, Buffer>();
function sealKeyOf(ctx: StorageContext): Buffer {
  let key = sealKeys.get(ctx.secret);
  if (!key) {
    key = accessKeySealKey(ctx.secret);
    sealKeys.set(ctx.secret, key);
  }
  return key;
}

function checkSignature(http: HttpFacts, signed: SignedRequest, secret: string) {
  if (!sameSignature(requestSignature(http, signed, secret), signed.signature))
    throw S3Errors.signatureDoesNotMatch(signed.sessionToken !== undefined);
}

/**
 * The request body as the bytes it carries: aws-chunked decoded (each chunk's signature checked
 * when signed), a signed SHA-256 checked at its end. A failed check errors the stream, so the
 * store keeps nothing of it.
 */
export function payloadOf(c: StorageHttp, caller: S3Caller): { body: Readable; length: number | undefined } {
  const request = nodeRequest(c);
  const mode = caller.signed.payloadHash;
  const declared = (name: string) => {
    const text = request.headers[name];
    return typeof text === 'string' && /^\d{1,15}$/.test(text) ? Number(text) : undefined;
  };
  if (mode === STREAMING_SIGNED || mode === STREAMING_SIGNED_TRAILER || mode === STREAMING_UNSIGNED_TRAILER) {
    const signing =
      mode === STREAMING_UNSIGNED_TRAILER
        ? undefined
        : { key: signingKey(caller.secret, caller.signed.date, caller.signed.region), request: caller.signed };
    const decoder = new AwsChunkedDecoder(signing);
    request.pipe(decoder);
    request.on('error', (err) => decoder.destroy(err));
    request.on('aborted', () => decoder.destroy(new Error('aborted')));
    // Whoever reads the body sees its error (stream.errored, the pipeline); none may go unheard.
    decoder.on('error', () => undefined);
    return { body: decoder, length: declared('x-amz-decoded-content-length') };
  }
  if (mode === UNSIGNED_PAYLOAD) return { body: request, length: declared('content-length') };
  const checker = new Sha256Check(mode);
  request.pipe(checker);
  request.on('error', (err) => checker.destroy(err));
  request.on('aborted', () => checker.destroy(new Error('aborted')));
  checker.on('error', () => undefined);
  return { body: checker, length: declared('content-length') };
}

class Sha256Check extends Transform {
  private readonly hash = crypto.createHash('sha256');
  constructor(private readonly expected: string) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(this.hash.digest('hex') === this.expected ? null : S3Errors.contentSha256Mismatch());
  }
}

/** A small body (an XML request), bounded, with its signed hash checked. */
export async function smallBody(c: StorageHttp, caller: S3Caller, max = 1024 * 1024): Promise<string> {
  const { body } = payloadOf(c, caller);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) throw S3Errors.invalidRequest(`The request body is larger than ${max} bytes`);
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks);
  if (caller.signed.payloadHash.length === 64 && sha256Hex(text) !== caller.signed.payloadHash)
    throw S3Errors.contentSha256Mismatch();
  return text.toString('utf8');
}
