/**
 * /studio/api: the documented admin endpoints the dashboard calls (docs/studio.md). Every route
 * but the sign-in needs the dashboard's cookie or the service_role key (session.ts).
 */
import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { listBackups, openTarget } from '../backup/index.js';
import { readMigrationFiles } from '../db/index.js';
import { ApiError } from '../errors.js';
import {
  MAX_JSON_BODY,
  MAX_JSON_DEPTH,
  jsonDepthExceeds,
  limitBody,
  nulAt,
  nulMessage,
  readJson,
} from '../platform/body.js';
import { clientInfo } from '../platform/client.js';
import type { HttpEnv } from '../platform/http.js';
import { respondJson } from '../platform/json.js';
import { checkStudioPassword } from '../project/studio-password.js';
import type { Services } from '../services.js';
import { encodePath, expectOk, type Bridge } from './bridge.js';
import { authSettings } from './auth-settings.js';
import { backupRoutes } from './backups.js';
import { listTables, tableDetail } from './catalog.js';
import { summarizeMetrics } from './metrics.js';
import { browseQuery, planBrowse, planDelete, planInsert, planUpdate, rowBody } from './rows.js';
import { SESSION_COOKIE, issueSession, requireStudioCaller, sessionCookie, studioSecrets } from './session.js';
import { liveRoutes } from './live.js';
import { refused } from './pg-errors.js';
import { queueRoutes } from './queues.js';
import type { StudioRuntime } from './runtime.js';
import { runSql, sqlRequest } from './sql.js';

const CODES = { badJson: 'bad_json', invalid: 'validation_failed' } as const;
/** Largest file the storage page uploads through Studio (the storage API's own limits apply too). */
const MAX_UPLOAD = 50 * 1024 * 1024;

/** The JSON body, refused with 400 when it nests too deep or holds NUL anywhere (PostgreSQL cannot store it). */
async function body<S extends z.ZodType>(c: Context, schema: S): Promise<z.output<S>> {
  const value = await readJson(c, schema, CODES);
  if (jsonDepthExceeds(value))
    throw new ApiError(400, 'validation_failed', `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
  const nul = nulAt(value);
  if (nul !== undefined) throw new ApiError(400, 'validation_failed', nulMessage(nul));
  return value;
}

const tooLarge = (limit: number) => (): never => {
  throw new ApiError(413, 'payload_too_large', `the request body is larger than ${limit} bytes`);
};

const name = z.string().min(1).max(63);

/** Guesses at the dashboard password: ten a minute per client address, across instances with Redis. */
const SIGN_IN_RULE = { name: 'studio_sign_in', points: 10, durationS: 60 } as const;

function param<S extends z.ZodType>(schema: S, value: unknown, message: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError(400, 'validation_failed', message);
  return parsed.data;
}

export function studioApi(services: Services, bridge: Bridge, runtime: StudioRuntime): Hono<HttpEnv> {
  const { config, db } = services;
  const secrets = studioSecrets(config.dataDir);
  const app = new Hono<HttpEnv>();
  const json = limitBody(MAX_JSON_BODY, tooLarge(MAX_JSON_BODY));
  const upload = limitBody(MAX_UPLOAD, tooLarge(MAX_UPLOAD));
  // JSON bodies are small; an upload goes up to MAX_UPLOAD (its own route below).
  for (const path of [
    '/session',
    '/tables/*',
    '/sql',
    '/auth/*',
    '/realtime/*',
    '/storage/buckets',
    '/storage/buckets/:bucket/sign',
    '/backups',
    '/backups/*',
    '/queues/*',
    '/cron/*',
  ])
    app.use(path, json);

  app.post('/session', async (c) => {
    const { password } = await body(c, z.object({ password: z.string().min(1).max(1024) }));
    const address = clientInfo(c, config.trustProxy).ip ?? 'unknown';
    const limit = await services.limiter.consume(SIGN_IN_RULE, address);
    if (!limit.allowed)
      throw new ApiError(429, 'over_request_rate_limit', 'Too many sign-in attempts; try again later', {
        headers: { 'retry-after': String(limit.retryAfterS) },
      });
    const secret = await secrets();
    if (!(await checkStudioPassword(secret, password)))
      throw new ApiError(401, 'invalid_password', 'The dashboard password is wrong');
    const session = issueSession(secret, config.studio.sessionHours);
    c.header('set-cookie', sessionCookie(session.value, session.maxAge));
    return c.json({ signedIn: true, expiresInSeconds: session.maxAge });
  });
  app.delete('/session', (c) => {
    c.header('set-cookie', `${SESSION_COOKIE}=; Path=/studio; HttpOnly; SameSite=Strict; Max-Age=0`);
    return c.json({ signedIn: false });
  });

  app.use('*', requireStudioCaller(services.tokens, secrets));
  app.get('/session', (c) => c.json({ signedIn: true }));

  // Tables
  app.get('/tables', async (c) => respondJson(c, await listTables(db)));
  app.get('/tables/:schema/:table', async (c) =>
    respondJson(c, await tableDetail(db, c.req.param('schema'), c.req.param('table'))),
  );
  const detail = (c: Context) => tableDetail(db, c.req.param('schema') ?? '', c.req.param('table') ?? '');
  app.post('/tables/:schema/:table/rows/browse', async (c) => {
    const q = await body(c, browseQuery);
    const t = await detail(c);
    const plan = planBrowse(
      t.schema,
      t.name,
      t.columns.map((col) => col.name),
      q,
    );
    const result = await db.query<{ row: unknown; total: string }>(plan.text, plan.values).catch(refused);
    return respondJson(c, {
      columns: t.columns,
      primaryKey: t.primaryKey,
      rows: result.rows.map((r) => r.row),
      total: Number(result.rows[0]?.total ?? 0),
      limit: q.limit,
      offset: q.offset,
    });
  });
  app.post('/tables/:schema/:table/rows', async (c) => {
    const { row } = await body(c, z.object({ row: rowBody }));
    const t = await detail(c);
    const plan = planInsert(
      t.schema,
      t.name,
      t.columns.map((col) => col.name),
      row,
    );
    const result = await db.query<{ row: unknown }>(plan.text, plan.values).catch(refused);
    return respondJson(c, { row: result.rows[0]?.row ?? null }, 201);
  });
  app.patch('/tables/:schema/:table/rows', async (c) => {
    const { key, row } = await body(c, z.object({ key: rowBody, row: rowBody }));
    const t = await detail(c);
    const plan = planUpdate(
      t.schema,
      t.name,
      t.columns.map((col) => col.name),
      t.primaryKey,
      key,
      row,
    );
    const result = await db.query<{ row: unknown }>(plan.text, plan.values).catch(refused);
    if (result.rows.length === 0) throw new ApiError(404, 'row_not_found', 'no row has that key');
    return respondJson(c, { row: result.rows[0]?.row ?? null });
  });
  app.delete('/tables/:schema/:table/rows', async (c) => {
    const { key } = await body(c, z.object({ key: rowBody }));
    const t = await detail(c);
    const plan = planDelete(t.schema, t.name, t.primaryKey, key);
    const result = await db.query<{ row: unknown }>(plan.text, plan.values).catch(refused);
    if (result.rows.length === 0) throw new ApiError(404, 'row_not_found', 'no row has that key');
    return respondJson(c, { row: result.rows[0]?.row ?? null });
  });

  // SQL editor
  app.post('/sql', async (c) =>
    respondJson(c, await runSql(db, await body(c, sqlRequest), config.studio.sqlTimeoutMs)),
  );

  // Auth users: read here (search), changed through /auth/v1/admin.
  app.get('/auth/users', async (c) => {
    const q = (c.req.query('q') ?? '').slice(0, 200);
    if (q.includes('\u0000')) throw new ApiError(400, 'validation_failed', 'the search contains a NUL character');
    const page = Math.max(1, Math.min(1_000_000, Number(c.req.query('page') ?? '1') || 1));
    const perPage = Math.max(1, Math.min(200, Number(c.req.query('per_page') ?? '50') || 50));
    const pattern = `%${q.replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    const result = await db.query(
      `select u.id, u.email, u.phone, u.role, u.created_at, u.last_sign_in_at, u.banned_until,
              u.email_confirmed_at, u.is_anonymous,
              (select count(*)::int from auth.mfa_factors f where f.user_id = u.id) as factors,
              count(*) over ()::int as total
         from auth.users u
        where u.deleted_at is null and ($1 = '' or u.email ilike $2 or u.phone ilike $2 or u.id::text = $1)
        order by u.created_at desc, u.id limit $3 offset $4`,
      [q, pattern, perPage, (page - 1) * perPage],
    );
    const total = (result.rows[0] as { total?: number } | undefined)?.total ?? 0;
    return respondJson(c, { users: result.rows.map(({ total: _t, ...u }) => u), total, page, perPage });
  });
  const userId = (c: Context) => param(z.uuid(), c.req.param('id'), 'the user id must be a UUID');
  app.post('/auth/users', async (c) => {
    const user = await body(
      c,
      z.object({
        email: z.string().max(320).optional(),
        phone: z.string().max(32).optional(),
        password: z.string().max(1024).optional(),
        email_confirm: z.boolean().default(true),
      }),
    );
    return respondJson(c, expectOk(await bridge.call('POST', '/auth/v1/admin/users', user)), 201);
  });
  app.post('/auth/invite', async (c) => {
    const invite = await body(c, z.object({ email: z.string().min(3).max(320) }));
    return respondJson(c, expectOk(await bridge.call('POST', '/auth/v1/invite', invite)));
  });
  app.post('/auth/users/:id/ban', async (c) => {
    const { duration } = await body(c, z.object({ duration: z.string().min(1).max(32) }));
    return respondJson(
      c,
      expectOk(await bridge.call('PUT', `/auth/v1/admin/users/${userId(c)}`, { ban_duration: duration })),
    );
  });
  app.delete('/auth/users/:id', async (c) =>
    respondJson(c, expectOk(await bridge.call('DELETE', `/auth/v1/admin/users/${userId(c)}`))),
  );
  // A user's sessions; deleting them signs the user out everywhere (their refresh tokens go with
  // them, and the session check, when on, refuses their access tokens: src/sql/0050).
  app.get('/auth/users/:id/sessions', async (c) => {
    const result = await db.query(
      `select id, created_at, updated_at, refreshed_at, aal, not_after, user_agent, host(ip) as ip
         from auth.sessions where user_id = $1 order by created_at desc`,
      [userId(c)],
    );
    return respondJson(c, { sessions: result.rows });
  });
  app.delete('/auth/users/:id/sessions', async (c) => {
    const result = await db.query('delete from auth.sessions where user_id = $1', [userId(c)]);
    return c.json({ removed: result.rowCount ?? 0 });
  });
  app.post('/auth/users/:id/reset-mfa', async (c) => {
    const id = userId(c);
    const factors = expectOk<{ id: string }[]>(await bridge.call('GET', `/auth/v1/admin/users/${id}/factors`));
    for (const f of factors) expectOk(await bridge.call('DELETE', `/auth/v1/admin/users/${id}/factors/${f.id}`));
    return respondJson(c, { removed: factors.length });
  });

  // Read-only: auth's settings come from the environment and config.toml at start.
  app.get('/auth/settings', async (c) => respondJson(c, await authSettings(config, services.tokens)));

  // Storage, through /storage/v1 as the service role.
  const bucket = (c: Context) => param(name, c.req.param('bucket'), 'invalid bucket name');
  const objectPath = (c: Context) => {
    const path = c.req.query('path') ?? '';
    if (path === '' || path.length > 1024 || path.includes('\u0000'))
      throw new ApiError(400, 'validation_failed', 'the object path (?path=) is missing or invalid');
    return path;
  };
  app.get('/storage/buckets', async (c) => respondJson(c, expectOk(await bridge.call('GET', '/storage/v1/bucket'))));
  app.post('/storage/buckets', async (c) => {
    const b = await body(c, z.object({ name, public: z.boolean().default(false) }));
    return respondJson(
      c,
      expectOk(await bridge.call('POST', '/storage/v1/bucket', { id: b.name, name: b.name, public: b.public })),
      201,
    );
  });
  app.get('/storage/buckets/:bucket/objects', async (c) => {
    const prefix = (c.req.query('prefix') ?? '').slice(0, 1024);
    return respondJson(
      c,
      expectOk(
        await bridge.call('POST', `/storage/v1/object/list/${encodeURIComponent(bucket(c))}`, {
          prefix,
          limit: 1000,
          offset: 0,
          sortBy: { column: 'name', order: 'asc' },
        }),
      ),
    );
  });
  app.post('/storage/buckets/:bucket/objects', upload, async (c) => {
    const path = objectPath(c);
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    const answer = await bridge.call(
      'POST',
      `/storage/v1/object/${encodeURIComponent(bucket(c))}/${encodePath(path)}?upsert=true`,
      bytes,
      c.req.header('content-type') ?? 'application/octet-stream',
    );
    return respondJson(c, expectOk(answer), 201);
  });
  app.post('/storage/buckets/:bucket/sign', async (c) => {
    const s = await body(
      c,
      z.object({ path: z.string().min(1).max(1024), expiresIn: z.number().int().min(1).max(31_536_000).default(3600) }),
    );
    const answer = expectOk<{ signedURL: string }>(
      await bridge.call('POST', `/storage/v1/object/sign/${encodeURIComponent(bucket(c))}/${encodePath(s.path)}`, {
        expiresIn: s.expiresIn,
      }),
    );
    return respondJson(c, { signedUrl: `${config.publicUrl}/storage/v1${answer.signedURL}` });
  });
  app.get('/storage/buckets/:bucket/download', async (c) => {
    const res = await bridge.raw(
      'GET',
      `/storage/v1/object/${encodeURIComponent(bucket(c))}/${encodePath(objectPath(c))}`,
    );
    if (res.status >= 400) expectOk({ status: res.status, body: await res.json().catch(() => null) });
    return new Response(res.body, {
      status: 200,
      headers: { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' },
    });
  });

  // Realtime: a test broadcast through /realtime/v1/api/broadcast, as the service role.
  app.post('/realtime/broadcast', async (c) => {
    const m = await body(
      c,
      z.object({
        channel: z.string().min(1).max(255),
        event: z.string().min(1).max(255),
        payload: z.record(z.string(), z.unknown()).default({}),
        private: z.boolean().default(false),
      }),
    );
    expectOk(
      await bridge.call('POST', '/realtime/v1/api/broadcast', {
        messages: [{ topic: m.channel, event: m.event, payload: m.payload, private: m.private }],
      }),
    );
    return c.json({ sent: true }, 202);
  });
  liveRoutes(app, services, runtime);

  // Observability and operations
  app.get('/metrics', async (c) => c.json(await summarizeMetrics(services.metrics)));
  // The recent request log of this process, newest first: ?status=2xx|3xx|4xx|5xx, ?q= in the path or route, ?limit=.
  app.get('/requests', (c) => {
    const status = c.req.query('status') ?? '';
    if (status !== '' && !/^[1-5]xx$/.test(status))
      throw new ApiError(400, 'validation_failed', 'status must be 1xx, 2xx, 3xx, 4xx or 5xx');
    const q = (c.req.query('q') ?? '').slice(0, 200);
    const limit = Math.max(1, Math.min(1000, Number(c.req.query('limit') ?? '200') || 200));
    const requests = services.metrics.recent
      .list()
      .filter((r) => status === '' || String(r.status)[0] === status[0])
      .filter((r) => q === '' || r.path.includes(q) || r.route.includes(q))
      .reverse()
      .slice(0, limit);
    return c.json({ requests });
  });
  app.get('/migrations', async (c) => {
    const [files, applied] = await Promise.all([
      readMigrationFiles(config.migrationsDir, () => undefined),
      db
        .query<{ version: string; name: string | null }>(
          'select version, name from supabase_migrations.schema_migrations order by version',
        )
        .then((r) => r.rows),
    ]);
    const done = new Set(applied.map((a) => a.version));
    return c.json({
      applied,
      pending: files.filter((f) => !done.has(f.version)).map((f) => ({ version: f.version, name: f.name })),
    });
  });
  backupRoutes(app, config, runtime, body);
  queueRoutes(app, db, config.cron.enabled, body);
  // The backups `trellis backup list` shows, from BACKUP_TARGET (none yet: an empty list).
  app.get('/backups', async (c) => {
    const where = config.backup.target;
    const target = await openTarget(where, config.backup.s3, true, 'BACKUP_TARGET').catch(() => undefined);
    if (!target) return c.json({ where, backups: [] });
    const all = await listBackups(target);
    return respondJson(c, {
      where: target.where,
      backups: all.map((b) => ({
        id: b.id,
        complete: b.complete,
        problem: b.problem ?? null,
        kind: b.manifest?.kind ?? null,
        label: b.manifest?.label ?? null,
        startTime: b.manifest?.startTime ?? null,
        stopTime: b.manifest?.stopTime ?? null,
        size: b.manifest ? b.manifest.pieces.reduce((n, piece) => n + piece.size, 0) : null,
      })),
    });
  });
  return app;
}
