/** A pass-through stream that counts and hashes bytes and fails once they pass a bound. */
import crypto from 'node:crypto';
import { Transform } from 'node:stream';
import { TooLarge, type WriteResult } from './store.js';

export interface CountingHasher extends Transform {
  result(): WriteResult;
}

export function countingHasher(maxBytes: number): CountingHasher {
  const md5 = crypto.createHash('md5');
  let size = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      size += chunk.length;
      // Refused while streaming: the bytes past the bound are never written anywhere.
      if (size > maxBytes) return callback(new TooLarge(maxBytes));
      md5.update(chunk);
      callback(null, chunk);
    },
  }) as CountingHasher;
  let digest: string | undefined;
  stream.result = () => ({ size, md5: (digest ??= md5.digest('hex')) });
  return stream;
}
