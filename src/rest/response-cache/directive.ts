/**
 * The `@cache` directive in a table's or view's comment: `@cache 30s` opts its reads in,
 * `@cache off` out. The rest of the comment is documentation (PostgREST shows comments in its
 * OpenAPI output), so the directive may stand anywhere in it, once. Pure.
 */
import { parseCacheDuration } from '../../config/cache-duration.js';

export type CacheDirective =
  | { readonly kind: 'none' }
  | { readonly kind: 'off' }
  | { readonly kind: 'ttl'; readonly ms: number }
  | { readonly kind: 'invalid'; readonly message: string };

// `@cache` as a word of its own (not `foo@cache.com`), with what follows it up to the next space.
const DIRECTIVE = /(?:^|\s)@cache(?=\s|$)[ \t]*(\S*)/g;

export function parseCacheDirective(comment: string | null | undefined): CacheDirective {
  if (!comment) return { kind: 'none' };
  const found = [...comment.matchAll(DIRECTIVE)];
  if (found.length === 0) return { kind: 'none' };
  if (found.length > 1) return { kind: 'invalid', message: '@cache is given more than once' };
  const value = found[0]?.[1] ?? '';
  if (value === '') return { kind: 'invalid', message: '@cache needs a duration, like @cache 30s' };
  if (value.toLowerCase() === 'off') return { kind: 'off' };
  const ttl = parseCacheDuration(value);
  return ttl.ok ? { kind: 'ttl', ms: ttl.ms } : { kind: 'invalid', message: `@cache: ${ttl.message}` };
}
