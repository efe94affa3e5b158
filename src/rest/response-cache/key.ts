/** The cache key of a read and the ETag of an answer. Pure. */
import crypto from 'node:crypto';

export interface KeyParts {
  readonly method: string;
  /** The relation as addressed (`/rooms`) and the query string exactly as sent. */
  readonly path: string;
  readonly search: string;
  /** The headers that change an answer: Accept, Prefer, Range, Accept-Profile. */
  readonly accept: string | undefined;
  readonly prefer: string | undefined;
  readonly range: string | undefined;
  readonly acceptProfile: string | undefined;
  readonly role: string;
  /** The caller's claims, when the answer may depend on them (classify.ts); absent: shared by the role. */
  readonly claims: Readonly<Record<string, unknown>> | undefined;
}

export function responseKey(parts: KeyParts): string {
  const fields = [
    parts.method,
    parts.path,
    parts.search,
    parts.accept ?? '',
    parts.prefer ?? '',
    parts.range ?? '',
    parts.acceptProfile ?? '',
    parts.role,
    parts.claims === undefined ? '' : JSON.stringify(parts.claims),
  ];
  // JSON of the list: no separator a header value could forge.
  return crypto.createHash('sha256').update(JSON.stringify(fields)).digest('base64url');
}

/** A strong validator: the same bytes give the same tag on every instance. */
export function etagOf(body: string): string {
  return `"${crypto.createHash('sha256').update(body).digest('base64url').slice(0, 32)}"`;
}

/** If-None-Match (RFC 9110 13.1.2): `*`, or a list of tags, weak ones compared weakly for GET. */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
