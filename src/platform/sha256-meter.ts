/** A pass-through stream that counts and SHA-256-hashes the bytes going by (backups, moved objects). */
import crypto from 'node:crypto';
import { Transform } from 'node:stream';

export interface Sha256Meter extends Transform {
  /** Size and hex digest of everything that went through; call once the stream has ended. */
  result(): { size: number; sha256: string };
}

export function sha256Meter(): Sha256Meter {
  const hash = crypto.createHash('sha256');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
  }) as Sha256Meter;
  let digest: string | undefined;
  stream.result = () => ({ size, sha256: (digest ??= hash.digest('hex')) });
  return stream;
}
