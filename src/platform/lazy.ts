/**
 * A CommonJS package loaded at its first use rather than with the module that names it: a start
 * loads only what its settings use (ioredis without REDIS_URL, nodemailer without SMTP, are not).
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function lazyRequire<T>(name: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= require(name) as T);
}
