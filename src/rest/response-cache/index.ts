/**
 * The data API's response cache (docs/rest-cache.md): GET and HEAD answers of relations opted in
 * by a `@cache 30s` comment or REST_CACHE_TABLES, kept in the ResponseStore (memory, or Redis with
 * REDIS_URL), forgotten when the WAL says a table they read changed, bounded by their TTL.
 * Not to be confused with cache.ts beside it, the schema cache.
 */
import type { Context } from 'hono';
import type { Claims } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { CachedResponse } from '../../platform/cache/index.js';
import { headerOf } from '../../platform/http.js';
import type { Services } from '../../services.js';
import type { ReadRequest } from '../request.js';
import type { SchemaCache } from '../schema.js';
import { counterScope, startInvalidationFeed, type CounterScope } from './feed.js';
import { etagOf, matchesIfNoneMatch, responseKey } from './key.js';
import { cacheFigures } from './metrics.js';
import { loadCachePolicies, warnOnce, type CachePolicies } from './policies.js';
import { readRelations } from './reach.js';

export interface ResponseCache {
  /** Answers a read from the cache when it may, otherwise through `produce`, keeping its answer when it may. */
  serve(
    c: Context,
    request: ReadRequest,
    claims: Claims,
    schema: SchemaCache,
    produce: () => Promise<Response>,
  ): Promise<Response>;
}

/** How old the policies may grow before a read reloads them (a new comment or policy is seen within this). */
const POLICIES_MAX_AGE_MS = 10_000;
/** The headers a cache (a browser's, a CDN's) must key an answer by, as this one does. */
const VARY = 'Accept, Prefer, Range, Accept-Profile, Authorization, apikey';
/** Headers of a produced answer kept with it (the rest are the server's, set again on every answer). */
const KEPT = ['content-type', 'content-range', 'preference-applied'];

export function createResponseCache(services: Services): ResponseCache {
  const { config, db, log, bus } = services;
  const store = services.responses;
  const settings = config.rest.cache;
  const passThrough: ResponseCache = { serve: (_c, _r, _cl, _s, produce) => produce() };
  if (!settings.enabled) return passThrough;
  const figures = cacheFigures(services.metrics.registry);
  let scope: Promise<CounterScope> | undefined;
  const scoped = () =>
    (scope ??= counterScope(db).catch((err: unknown) => {
      scope = undefined;
      throw err;
    }));
  const forgetAll = () =>
    scoped()
      .then((s) => store.invalidate([s.all]))
      .catch(() => undefined);
  const feed = startInvalidationFeed({ db, bus, store, log, figures, scope: scoped });
  const warn = warnOnce(log);

  let policies: { at: number; value: Promise<CachePolicies>; digest?: string } | undefined;
  const load = () => {
    const value = loadCachePolicies(db, config.rest.schemas, settings.tables, warn);
    const next: { at: number; value: Promise<CachePolicies>; digest?: string } = { at: Date.now(), value };
    const before = policies;
    policies = next;
    // A policy that changed (a new RLS policy, a comment) may change what a cached answer should
    // be, and no WAL change says so: forget everything.
    void value.then(
      (p) => {
        next.digest = JSON.stringify([...p.entries()]);
        if (before?.digest !== undefined && before.digest !== next.digest) void forgetAll();
      },
      (err: unknown) => {
        log.warn({ err: errorMessage(err) }, 'response cache: cannot read the cached relations; not caching');
        if (policies === next) policies = undefined;
      },
    );
    return next;
  };
  const current = async (): Promise<CachePolicies> => {
    const held = policies ?? load();
    if (Date.now() - held.at > POLICIES_MAX_AGE_MS) load(); // this read uses the last, the next the new
    return held.value.catch(() => new Map());
  };
  db.listen('pgrst', () => {
    load();
    void forgetAll();
  });

  return {
    async serve(c, request, claims, schema, produce) {
      const all = await current();
      const policy = all.get(`${request.relation.schema}.${request.relation.name}`);
      const ttlMs = policy?.ttlMs;
      if (!policy || ttlMs === undefined) return produce();
      const reach = policy.cacheability;
      const relations = reach.cacheable ? readRelations(schema, request) : undefined;
      if (!reach.cacheable || !relations || !(await feed.live())) {
        figures.request('bypass');
        return produce();
      }
      // Each relation read must be cacheable too (an embedded table outside the publication is not);
      // it need not be opted in itself: the addressed relation's TTL applies.
      const tables = new Set(reach.tables);
      let claimsFree = reach.claimsFree;
      for (const name of relations) {
        const other = all.get(name);
        if (!other?.cacheability.cacheable) {
          figures.request('bypass');
          return produce();
        }
        other.cacheability.tables.forEach((t) => tables.add(t));
        claimsFree &&= other.cacheability.claimsFree;
      }
      const key = responseKey({
        method: c.req.method,
        path: c.req.param('relation') ?? '',
        search: new URL(c.req.url).search,
        accept: headerOf(c, 'accept'),
        prefer: headerOf(c, 'prefer'),
        range: headerOf(c, 'range'),
        acceptProfile: headerOf(c, 'accept-profile'),
        role: claims.role,
        claims: claimsFree ? undefined : claims,
      });
      let names: CounterScope;
      try {
        names = await scoped();
      } catch (err) {
        log.debug({ err: errorMessage(err) }, 'response cache: cannot read the cluster id');
        figures.request('bypass');
        return produce();
      }
      const tableList = [names.all, ...[...tables].sort().map(names.table)];
      const cacheControl = claims.role === 'anon' ? `public, max-age=${Math.floor(ttlMs / 1000)}` : 'private, no-cache';
      let found;
      try {
        found = await store.lookup(names.key(key), tableList);
      } catch (err) {
        log.debug({ err: errorMessage(err) }, 'response cache: lookup failed');
        figures.request('bypass');
        return produce();
      }
      if (found.hit) {
        figures.request('hit');
        return answer(c, found.hit, cacheControl, 'hit');
      }
      figures.request('miss');
      const produced = await produce();
      if (produced.status !== 200 && produced.status !== 206) return produced;
      const body = request.head ? null : await produced.text();
      const entry: CachedResponse = {
        status: produced.status,
        headers: KEPT.flatMap((name) => {
          const value = produced.headers.get(name);
          return value === null ? [] : [[name, value] as const];
        }),
        body,
        etag: body === null ? undefined : etagOf(body),
      };
      if ((body?.length ?? 0) <= settings.maxEntryBytes)
        store.store(names.key(key), tableList, found.generations, entry, ttlMs).catch((err: unknown) => {
          log.debug({ err: errorMessage(err) }, 'response cache: store failed');
        });
      return answer(c, entry, cacheControl, 'miss');
    },
  };
}

/** A cached or just-read answer, with its validator; 304 when the client holds it already. */
function answer(c: Context, entry: CachedResponse, cacheControl: string, result: 'hit' | 'miss'): Response {
  const headers = new Headers(entry.headers as [string, string][]);
  headers.set('cache-control', cacheControl);
  headers.set('vary', VARY);
  headers.set('x-trellis-cache', result);
  if (entry.etag !== undefined) {
    headers.set('etag', entry.etag);
    if (matchesIfNoneMatch(headerOf(c, 'if-none-match'), entry.etag)) {
      headers.delete('content-type');
      return new Response(null, { status: 304, headers });
    }
  }
  return new Response(entry.body, { status: entry.status, headers });
}
