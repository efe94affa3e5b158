/**
 * The aws-chunked body of a streaming upload (pure, a Transform): `<hex size>;chunk-signature=<sig>`
 * lines before each chunk when signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, each signature chained
 * to the one before, starting from the request's), bare `<hex size>` lines when unsigned
 * (STREAMING-UNSIGNED-PAYLOAD-TRAILER), a zero-size chunk last, then optional trailer headers.
 * Only the chunks' data passes on; a bad signature or framing errors the stream, so the store
 * keeps nothing of the upload.
 */
import crypto from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Errors } from './errors.js';
import { chunkSignature, sameSignature, type SignedRequest } from './sigv4.js';

const MAX_LINE = 4096;
/** The SDKs send 64 KiB chunks; a chunk this large is framing gone wrong. */
const MAX_CHUNK = 64 * 1024 * 1024;

export interface ChunkSigning {
  readonly key: Buffer;
  readonly request: SignedRequest;
}

export class AwsChunkedDecoder extends Transform {
  private buffered: Buffer = Buffer.alloc(0);
  private remaining = 0;
  private state: 'header' | 'data' | 'data-end' | 'trailer' | 'done' = 'header';
  private expectedSignature = '';
  private previous: string;
  private hash: crypto.Hash | undefined;
  decoded = 0;

  constructor(private readonly signing: ChunkSigning | undefined) {
    super();
    this.previous = signing?.request.signature ?? '';
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    try {
      this.drain();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (this.state === 'done' || (this.state === 'trailer' && this.buffered.length === 0)) done();
    else done(S3Errors.incompleteBody());
  }

  private line(): string | undefined {
    const at = this.buffered.indexOf('\r\n');
    if (at < 0) {
      if (this.buffered.length > MAX_LINE) throw S3Errors.invalidRequest('An aws-chunked header line is too long');
      return undefined;
    }
    if (at > MAX_LINE) throw S3Errors.invalidRequest('An aws-chunked header line is too long');
    const text = this.buffered.subarray(0, at).toString('latin1');
    this.buffered = this.buffered.subarray(at + 2);
    return text;
  }

  private drain(): void {
    for (;;) {
      if (this.state === 'header') {
        const text = this.line();
        if (text === undefined) return;
        const m = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(text);
        if (!m) throw S3Errors.invalidRequest('The aws-chunked body is malformed');
        const size = parseInt(m[1] as string, 16);
        if (size > MAX_CHUNK) throw S3Errors.invalidRequest('An aws-chunked chunk is too large');
        if (this.signing && m[2] === undefined) throw S3Errors.signatureDoesNotMatch();
        this.expectedSignature = m[2] ?? '';
        this.remaining = size;
        this.hash = this.signing ? crypto.createHash('sha256') : undefined;
        this.state = 'data';
        if (size === 0) this.endChunk(true);
        continue;
      }
      if (this.state === 'data') {
        if (this.buffered.length === 0) return;
        const take = this.buffered.subarray(0, Math.min(this.remaining, this.buffered.length));
        this.buffered = this.buffered.subarray(take.length);
        this.remaining -= take.length;
        this.decoded += take.length;
        this.hash?.update(take);
        if (take.length > 0) this.push(take);
        if (this.remaining === 0) this.state = 'data-end';
        continue;
      }
      if (this.state === 'data-end') {
        if (this.buffered.length < 2) return;
        if (this.buffered[0] !== 0x0d || this.buffered[1] !== 0x0a)
          throw S3Errors.invalidRequest('The aws-chunked body is malformed');
        this.buffered = this.buffered.subarray(2);
        this.endChunk(false);
        continue;
      }
      if (this.state === 'trailer') {
        // Trailer headers (x-amz-checksum-*, x-amz-trailer-signature) up to an empty line.
        const text = this.line();
        if (text === undefined) return;
        if (text === '') this.state = 'done';
        continue;
      }
      // done: anything after the body is ignored, as S3 does.
      this.buffered = Buffer.alloc(0);
      return;
    }
  }

  private endChunk(last: boolean): void {
    if (this.signing) {
      const digest = (this.hash ?? crypto.createHash('sha256')).digest('hex');
      const expected = chunkSignature(this.signing.key, this.signing.request, this.previous, digest);
      if (!sameSignature(expected, this.expectedSignature)) throw S3Errors.signatureDoesNotMatch();
      this.previous = expected;
    }
    this.state = last ? 'trailer' : 'header';
  }
}
