/**
 * The client registry of the OAuth 2.1 server (`/admin/oauth/clients`, auth-js `admin.oauth.*`,
 * and RFC 7591 dynamic registration at `/oauth/clients/register`), as GoTrue keeps it in
 * auth.oauth_clients. A client's secret is shown once, at creation or regeneration; only its
 * SHA-256 is stored. Deleting a client marks it deleted, as GoTrue does.
 */
import crypto from 'node:crypto';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { z } from 'zod';
import type { Tx } from '../db/index.js';
import { readJson } from '../platform/body.js';
import { respondJson } from '../platform/json.js';
import { callerClaims, type AuthContext } from './context.js';
import { codes, errors } from './errors.js';
import type { AuthLimits } from './limits.js';
import { isUuid } from './users.js';
import { checkRedirectUris, checkRegistration, type ClientFields } from './oauth-client-rules.js';

interface ClientRow {
  id: string;
  client_secret_hash: string | null;
  registration_type: 'dynamic' | 'manual';
  client_type: 'public' | 'confidential';
  token_endpoint_auth_method: string;
  redirect_uris: string;
  grant_types: string;
  client_name: string | null;
  client_uri: string | null;
  logo_uri: string | null;
  created_at: Date;
  updated_at: Date;
}

const list = (csv: string) => csv.split(',').filter((s) => s !== '');

function clientJson(row: ClientRow, secret?: string) {
  return {
    client_id: row.id,
    ...(secret ? { client_secret: secret } : {}),
    client_type: row.client_type,
    redirect_uris: list(row.redirect_uris),
    token_endpoint_auth_method: row.token_endpoint_auth_method,
    grant_types: list(row.grant_types),
    response_types: ['code'],
    ...(row.client_name ? { client_name: row.client_name } : {}),
    ...(row.client_uri ? { client_uri: row.client_uri } : {}),
    ...(row.logo_uri ? { logo_uri: row.logo_uri } : {}),
    registration_type: row.registration_type,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** 32 random bytes, and the base64url SHA-256 kept in place of it (GoTrue's hashClientSecret). */
function newSecret(): { secret: string; hash: string } {
  const secret = crypto.randomBytes(32).toString('base64url');
  return { secret, hash: crypto.createHash('sha256').update(secret).digest('base64url') };
}

const registerBody = z.object({
  redirect_uris: z.array(z.string()).optional(),
  client_type: z.string().optional(),
  token_endpoint_auth_method: z.string().optional(),
  grant_types: z.array(z.string()).optional(),
  client_name: z.string().optional(),
  client_uri: z.string().optional(),
  logo_uri: z.string().optional(),
});

async function register(ctx: AuthContext, c: Context, registrationType: 'manual' | 'dynamic') {
  const body = await readJson(c, registerBody, codes);
  const fields = checkRegistration(body);
  const { secret, hash } = fields.clientType === 'confidential' ? newSecret() : { secret: undefined, hash: null };
  const row = await ctx.db.transaction(
    async (tx) =>
      (
        await tx.query<ClientRow>(
          `insert into auth.oauth_clients (id, client_secret_hash, registration_type, client_type, token_endpoint_auth_method,
             redirect_uris, grant_types, client_name, client_uri, logo_uri)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning *`,
          [
            crypto.randomUUID(),
            hash,
            registrationType,
            fields.clientType,
            fields.tokenEndpointAuthMethod,
            fields.redirectUris.join(','),
            fields.grantTypes.join(','),
            fields.clientName || null,
            fields.clientUri || null,
            fields.logoUri || null,
          ],
        )
      ).rows[0] as ClientRow,
  );
  return respondJson(c, clientJson(row, secret), 201);
}

async function loadClient(tx: Tx, c: Context, lock = false): Promise<ClientRow> {
  const id = c.req.param('clientId') ?? '';
  if (!isUuid(id)) throw errors.validation('invalid client_id format');
  const row = (
    await tx.query<ClientRow>(
      `select * from auth.oauth_clients where id = $1 and deleted_at is null${lock ? ' for update' : ''}`,
      [id],
    )
  ).rows[0];
  if (!row) throw errors.oauthClientNotFound();
  return row;
}

const updateBody = z.object({
  redirect_uris: z.array(z.string()).optional(),
  grant_types: z.array(z.string()).optional(),
  client_name: z.string().optional(),
  client_uri: z.string().optional(),
  logo_uri: z.string().optional(),
  token_endpoint_auth_method: z.string().optional(),
});

async function update(ctx: AuthContext, c: Context) {
  const row = await ctx.db.transaction(async (tx) => {
    const current = await loadClient(tx, c, true);
    const body = await readJson(c, updateBody, codes);
    if (Object.values(body).every((v) => v === undefined)) throw errors.validation('No fields provided for update');
    if (body.redirect_uris !== undefined) checkRedirectUris(body.redirect_uris, false);
    const merged: ClientFields = checkRegistration({
      redirect_uris: body.redirect_uris ?? list(current.redirect_uris),
      grant_types: body.grant_types ?? list(current.grant_types),
      client_name: body.client_name ?? current.client_name ?? '',
      client_uri: body.client_uri ?? current.client_uri ?? '',
      logo_uri: body.logo_uri ?? current.logo_uri ?? '',
      client_type: current.client_type,
      token_endpoint_auth_method: body.token_endpoint_auth_method ?? current.token_endpoint_auth_method,
    });
    return (
      await tx.query<ClientRow>(
        `update auth.oauth_clients set redirect_uris = $2, grant_types = $3, client_name = $4, client_uri = $5, logo_uri = $6,
           token_endpoint_auth_method = $7, updated_at = now() where id = $1 returning *`,
        [
          current.id,
          merged.redirectUris.join(','),
          merged.grantTypes.join(','),
          merged.clientName || null,
          merged.clientUri || null,
          merged.logoUri || null,
          merged.tokenEndpointAuthMethod,
        ],
      )
    ).rows[0] as ClientRow;
  });
  return respondJson(c, clientJson(row));
}

function boundedInt(raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || !/^\d{1,9}$/.test(raw)) return fallback;
  return Math.min(max, Math.max(min, Number(raw)));
}

async function listClients(ctx: AuthContext, c: Context) {
  const page = boundedInt(c.req.query('page'), 1, 1, 1_000_000);
  const perPage = boundedInt(c.req.query('per_page'), 50, 1, 1000);
  const { rows, total } = await ctx.db.transaction(async (tx) => {
    const found = await tx.query<ClientRow>(
      `select * from auth.oauth_clients where deleted_at is null order by created_at desc, id limit $1 offset $2`,
      [perPage, (page - 1) * perPage],
    );
    const count = await tx.query<{ n: number }>(
      'select count(*)::int as n from auth.oauth_clients where deleted_at is null',
    );
    return { rows: found.rows, total: count.rows[0]?.n ?? 0 };
  });
  const last = Math.max(1, Math.ceil(total / perPage));
  const link = (p: number, rel: string) => `</admin/oauth/clients?page=${p}&per_page=${perPage}>; rel="${rel}"`;
  c.header('x-total-count', String(total));
  c.header('link', [...(page < last ? [link(page + 1, 'next')] : []), link(last, 'last')].join(', '));
  return respondJson(c, { clients: rows.map((r) => clientJson(r)) });
}

/** /admin/oauth/clients: service role first (the admin router's rule), then the feature switch. */
export function oauthClientAdminRoutes(ctx: AuthContext): Hono {
  const app = new Hono();
  app.use('*', async (c: Context, next) => {
    const claims = await callerClaims(ctx, c);
    if (claims.role !== 'service_role' && claims.role !== 'supabase_admin') throw errors.notAdmin();
    if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
    await next();
  });
  app.post('/', (c) => register(ctx, c, 'manual'));
  app.get('/', (c) => listClients(ctx, c));
  app.get('/:clientId', async (c) => respondJson(c, clientJson(await ctx.db.transaction((tx) => loadClient(tx, c)))));
  app.put('/:clientId', (c) => update(ctx, c));
  app.delete('/:clientId', async (c) => {
    await ctx.db.transaction(async (tx) => {
      const row = await loadClient(tx, c, true);
      await tx.query('update auth.oauth_clients set deleted_at = now(), updated_at = now() where id = $1', [row.id]);
    });
    return c.body(null, 204);
  });
  app.post('/:clientId/regenerate_secret', async (c) => {
    const { row, secret } = await ctx.db.transaction(async (tx) => {
      const current = await loadClient(tx, c, true);
      if (current.client_type !== 'confidential') throw errors.validation('Cannot regenerate secret for public client');
      const fresh = newSecret();
      const updated = (
        await tx.query<ClientRow>(
          'update auth.oauth_clients set client_secret_hash = $2, updated_at = now() where id = $1 returning *',
          [current.id, fresh.hash],
        )
      ).rows[0] as ClientRow;
      return { row: updated, secret: fresh.secret };
    });
    return respondJson(c, clientJson(row, secret));
  });
  return app;
}

/** POST /oauth/clients/register: anyone may register a client when the switch allows it. */
export async function dynamicRegister(ctx: AuthContext, limits: AuthLimits, c: Context) {
  if (!ctx.config.auth.oauthServer.enabled) throw errors.oauthServerDisabled();
  if (!ctx.config.auth.oauthServer.dynamicRegistration) throw errors.oauthDynamicRegistrationDisabled();
  await ctx.limit(limits.signIn, ctx.client(c).ip);
  return register(ctx, c, 'dynamic');
}
