/** What every storage handler uses: services, the object store, and the caller's claims. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import { isPgError, type Claims, type Tx } from '../db/index.js';
import { jsonDepthExceeds, nulAt, nulMessage } from '../platform/body.js';
import { headerOf } from '../platform/http.js';
import type { KeyEnv } from '../platform/keys.js';
import { bearerToken, type TokenProblem } from '../platform/tokens.js';
import type { Services } from '../services.js';
import { StorageErrors } from './errors.js';
import type { ObjectStore } from '../platform/store/index.js';

export interface StorageContext {
  readonly services: Services;
  readonly store: ObjectStore;
  readonly secret: Uint8Array;
}

export type StorageHttp = Context<KeyEnv>;

/** The caller's claims: the bearer JWT, else the apikey's role. A bad token is storage-api's InvalidJWT. */
export async function callerClaims(ctx: StorageContext, c: StorageHttp): Promise<Claims> {
  const check = await ctx.services.tokens.checkBearer(bearerToken(headerOf(c, 'authorization')), {
    fallbackRole: c.get('apikeyRole'),
  });
  if (check.ok) return check.claims;
  // withClaims would refuse another role too; this gives the refusal storage-api's shape.
  if (check.problem.kind === 'not_api_role')
    throw StorageErrors.accessDenied(`role "${check.problem.role.slice(0, 64)}" is not allowed`);
  throw StorageErrors.invalidJwt(jwtMessage(check.problem));
}

/** The messages storage-api (jsonwebtoken) gives for a refused token. */
export function jwtMessage(problem: TokenProblem): string {
  if (problem.kind === 'expired') return 'jwt expired';
  // A kid the key set does not hold is, to the caller, a signature nothing here can verify.
  if (problem.kind === 'bad_signature' || problem.kind === 'unknown_key') return 'invalid signature';
  if (problem.kind === 'bad_algorithm') return 'invalid algorithm';
  if (problem.kind === 'session_revoked') return 'session from session_id claim in JWT does not exist';
  return 'jwt malformed';
}

/** The user id the claims name, as storage.objects.owner (uuid) wants it, or null. */
export function ownerOf(claims: Claims): string | null {
  const sub = claims.sub;
  return typeof sub === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(sub)
    ? sub
    : null;
}

/**
 * Runs `fn` as the caller; PostgreSQL's refusals become storage-api's errors. A read-only `fn`
 * (metadata: lists, info, a download's row) may run on a read replica that has replayed the
 * caller's last write; a write notes its LSN on the response `c` for the caller's later reads.
 */
export async function asCaller<T>(
  ctx: StorageContext,
  c: StorageHttp | undefined,
  claims: Claims,
  fn: (tx: Tx) => Promise<T>,
  readOnly = false,
): Promise<T> {
  const { fences } = ctx.services;
  const routing =
    c === undefined
      ? {}
      : readOnly
        ? await fences.readOptions(c, claims, (message) => StorageErrors.invalidRequest(message))
        : { onCommitLsn: fences.onWrite(c, claims) };
  try {
    return await ctx.services.db.withClaims(claims, fn, { readOnly, ...routing });
  } catch (err) {
    throw fromPg(err);
  }
}

/** storage-api maps an RLS refusal to 403 "Unauthorized" with PostgreSQL's message, a duplicate to 409. */
export function fromPg(err: unknown): unknown {
  if (!isPgError(err)) return err;
  if (err.code === '42501') return StorageErrors.accessDenied(err.message);
  if (err.code === '23505')
    return err.constraint === 'buckets_pkey' || err.constraint === 'bname'
      ? StorageErrors.bucketExists()
      : StorageErrors.objectExists();
  if (err.code === '23503') return StorageErrors.bucketNotFound();
  // NUL that got past readJsonBody (22021/22P05) is answered by platform/refused-text.ts, for every module.
  return err;
}

export function nodeRequest(c: StorageHttp): IncomingMessage {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (!incoming) throw StorageErrors.internal('storage needs the Node.js server');
  return incoming;
}

export function nodeResponse(c: StorageHttp): ServerResponse {
  const outgoing = (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
  if (!outgoing) throw StorageErrors.internal('storage needs the Node.js server');
  return outgoing;
}

/** The raw, still percent-encoded path after `/storage/v1/<prefix>/` (never normalised). */
export function rawPathAfter(c: StorageHttp, prefix: string): string {
  const raw = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming?.url ?? new URL(c.req.url).pathname;
  const pathOnly = raw.split('?')[0] ?? '';
  const marker = `/storage/v1/${prefix}/`;
  const at = pathOnly.indexOf(marker);
  if (at < 0) throw StorageErrors.invalidKey(pathOnly);
  return pathOnly.slice(at + marker.length);
}

/** Most bytes a JSON request body (list, sign, move, …) may have. */
const MAX_JSON_BODY = 1024 * 1024;

/** A JSON request body as an object ({} when empty), read with a bound even when chunked. */
export async function readJsonBody(c: StorageHttp): Promise<Record<string, unknown>> {
  const declared = Number(headerOf(c, 'content-length') ?? '0');
  if (declared > MAX_JSON_BODY) throw StorageErrors.tooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of nodeRequest(c) as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_JSON_BODY) throw StorageErrors.tooLarge();
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw StorageErrors.invalidRequest('Body is not valid JSON');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw StorageErrors.invalidRequest('Body must be a JSON object');
  // Every name, prefix and option in a storage body reaches PostgreSQL as text or jsonb.
  const nul = nulAt(value);
  if (nul !== undefined) throw StorageErrors.invalidRequest(nulMessage(nul));
  if (jsonDepthExceeds(value)) throw StorageErrors.invalidRequest('Body is nested too deeply');
  return value as Record<string, unknown>;
}
