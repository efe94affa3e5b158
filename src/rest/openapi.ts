/**
 * `GET /rest/v1/`: the OpenAPI 2.0 (Swagger) document PostgREST answers at its root, for one exposed
 * schema (Accept-Profile picks it), built from the catalog as the caller's role reads it, so a role
 * sees only the tables it holds a privilege on and the functions it may execute (PostgREST's
 * default openapi-mode, follow-privileges). The builder is pure; the handler reads and answers.
 */
import type { Context } from 'hono';
import { readCatalog, type Catalog, type CatalogColumn, type CatalogRelation } from '../db/index.js';
import { ApiError } from '../errors.js';
import { headerOf } from '../platform/http.js';
import type { KeyEnv } from '../platform/keys.js';
import { stringifyJson } from '../platform/json.js';
import { requestClaims } from './claims.js';
import type { RestContext } from './context.js';
import { chooseSchema } from './request.js';

/** The PostgREST release Trellis answers as: the document's version, and generated types' PostgrestVersion. */
export const POSTGREST_VERSION = '13.0';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };

const OBJECT_JSON = 'application/vnd.pgrst.object+json';
const MEDIA = ['application/json', `${OBJECT_JSON};nulls=stripped`, OBJECT_JSON, 'text/csv'];

/** PostgREST's Swagger type of a PostgreSQL type (format_type's name); undefined for json/jsonb (any). */
function swaggerType(type: string): string | undefined {
  if (type === 'json' || type === 'jsonb') return undefined;
  if (type.endsWith('[]')) return 'array';
  if (['smallint', 'integer', 'bigint'].includes(type)) return 'integer';
  if (['numeric', 'real', 'double precision'].includes(type)) return 'number';
  if (type === 'boolean') return 'boolean';
  return 'string';
}

function swaggerFormat(type: string): string {
  return type === 'smallint' || type === 'integer' ? 'int32' : type === 'bigint' ? 'int64' : type;
}

/** An array's items, typed by its element type. */
function arrayItems(type: string): Json | undefined {
  return swaggerType(type) === 'array' ? { type: swaggerType(type.slice(0, -2)) } : undefined;
}

/**
 * A column default a client can use as a value: a constant (`0`, `true`, `'draft'::text`), not
 * an expression (`now()` stays a string, as PostgREST shows it; `nextval(…)` is dropped).
 */
function parseDefault(type: string, expression: string): Json | undefined {
  let text = expression;
  if (swaggerType(type) === 'string') {
    const suffix = `::${type}`;
    text = `"${text.endsWith(suffix) ? text.slice(0, -suffix.length).replace(/^'+|'+$/g, '') : text}"`;
  }
  try {
    return JSON.parse(text) as Json;
  } catch {
    return undefined;
  }
}

/** A comment's first line is the summary; the rest, after blank lines, the description. */
function splitComment(comment: string | null): { summary?: string; description?: string } {
  if (comment === null) return {};
  const at = comment.indexOf('\n');
  if (at < 0) return { summary: comment };
  const description = comment.slice(at).replace(/^\n+/, '');
  return { summary: comment.slice(0, at), ...(description === '' ? {} : { description }) };
}

function property(catalog: Catalog, relation: CatalogRelation, column: CatalogColumn): Json {
  const type = column.type.format;
  const fk = catalog.foreignKeys.find(
    (f) =>
      f.schema === relation.schema &&
      f.table === relation.name &&
      f.columns.length === 1 &&
      f.columns[0] === column.name,
  );
  const notes = [
    'Note:',
    ...(relation.primaryKey.includes(column.name) ? ['This is a Primary Key.<pk/>'] : []),
    ...(fk
      ? [
          `This is a Foreign Key to \`${fk.refTable}.${fk.refColumns[0]}\`.<fk table='${fk.refTable}' column='${fk.refColumns[0]}'/>`,
        ]
      : []),
  ];
  const description =
    notes.length > 1 ? `${column.comment === null ? '' : `${column.comment}\n\n`}${notes.join('\n')}` : column.comment;
  const enumLabels = catalog.types.find(
    (t) => t.schema === column.type.schema && t.name === column.type.name,
  )?.enumLabels;
  return {
    default: column.default === null ? undefined : parseDefault(type, column.default),
    description: description ?? undefined,
    enum: enumLabels ? [...enumLabels] : undefined,
    format: swaggerFormat(type),
    maxLength: column.maxLength ?? undefined,
    type: swaggerType(type),
    items: arrayItems(type),
  };
}

const queryParam = (name: string, description: string | undefined): Json => ({
  name,
  description,
  required: false,
  in: 'query',
  type: 'string',
});
const preferParam = (values: string[]): Json => ({
  name: 'Prefer',
  description: 'Preference',
  required: false,
  in: 'header',
  type: 'string',
  ...(values.length > 0 ? { enum: values } : {}),
});
const ref = (name: string): Json => ({ $ref: `#/parameters/${name}` });
/** Swagger leaves out an empty `required` list (a view's columns are all nullable). */
const nonEmpty = (names: string[]): string[] | undefined => (names.length > 0 ? names : undefined);

export interface OpenApiOptions {
  /** The API's public URL (API_EXTERNAL_URL or http://HOST:PORT); the document's host and base path. */
  readonly publicUrl: string;
}

/** The document for `schema`, from a catalog read as the caller (pure). */
export function buildOpenApi(catalog: Catalog, schema: string, options: OpenApiOptions): Json {
  const relations = catalog.relations.filter((r) => r.schema === schema && r.visible && !r.partition);
  const functions = catalog.functions.filter((f) => f.schema === schema && f.executable);
  const url = new URL(`${options.publicUrl}/rest/v1/`);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const info = splitComment(catalog.schemas.find((s) => s.name === schema)?.comment ?? null);

  const paths: Record<string, Json> = {
    '/': {
      get: {
        tags: ['Introspection'],
        summary: 'OpenAPI description (this document)',
        produces: ['application/openapi+json', 'application/json'],
        responses: { 200: { description: 'OK' } },
      },
    },
  };
  const definitions: Record<string, Json> = {};
  const parameters: Record<string, Json> = {
    preferParams: preferParam([]),
    preferReturn: preferParam(['return=representation', 'return=minimal', 'return=none']),
    preferCount: preferParam(['count=none']),
    preferPost: preferParam([
      'return=representation',
      'return=minimal',
      'return=none',
      'resolution=ignore-duplicates',
      'resolution=merge-duplicates',
    ]),
    select: queryParam('select', 'Filtering Columns'),
    on_conflict: queryParam('on_conflict', 'On Conflict'),
    order: queryParam('order', 'Ordering'),
    range: { name: 'Range', description: 'Limiting and Pagination', required: false, in: 'header', type: 'string' },
    rangeUnit: {
      name: 'Range-Unit',
      description: 'Limiting and Pagination',
      required: false,
      in: 'header',
      type: 'string',
      default: 'items',
    },
    offset: queryParam('offset', 'Limiting and Pagination'),
    limit: queryParam('limit', 'Limiting and Pagination'),
  };

  for (const relation of relations) {
    const name = relation.name;
    definitions[name] = {
      description: relation.comment ?? undefined,
      type: 'object',
      properties: Object.fromEntries(relation.columns.map((c) => [c.name, property(catalog, relation, c)])),
      required: nonEmpty(relation.columns.filter((c) => !c.nullable).map((c) => c.name)),
    };
    parameters[`body.${name}`] = {
      name,
      description: name,
      required: false,
      in: 'body',
      schema: { $ref: `#/definitions/${name}` },
    };
    const filters = relation.columns.map((c) => {
      parameters[`rowFilter.${name}.${c.name}`] = queryParam(c.name, c.comment ?? undefined);
      return `rowFilter.${name}.${c.name}`;
    });
    const operation = { tags: [name], ...splitComment(relation.comment) };
    const item: Record<string, Json> = {
      get: {
        ...operation,
        parameters: [...filters, 'select', 'order', 'range', 'rangeUnit', 'offset', 'limit', 'preferCount'].map(ref),
        responses: {
          200: { description: 'OK', schema: { type: 'array', items: { $ref: `#/definitions/${name}` } } },
          206: { description: 'Partial Content' },
        },
      },
    };
    if (relation.insertable || relation.updatable || relation.deletable) {
      item.post = {
        ...operation,
        parameters: [`body.${name}`, 'select', 'preferPost'].map(ref),
        responses: { 201: { description: 'Created' } },
      };
      item.patch = {
        ...operation,
        parameters: [...filters, `body.${name}`, 'preferReturn'].map(ref),
        responses: { 204: { description: 'No Content' } },
      };
      item.delete = {
        ...operation,
        parameters: [...filters, 'preferReturn'].map(ref),
        responses: { 204: { description: 'No Content' } },
      };
    }
    paths[`/${name}`] = item;
  }

  for (const fn of functions) {
    const params = fn.args.filter((a) => a.mode === 'in' || a.mode === 'inout' || a.mode === 'variadic');
    const operation = {
      ...splitComment(fn.comment),
      tags: [`(rpc) ${fn.name}`],
      produces: MEDIA.slice(0, 3),
      responses: { 200: { description: 'OK' } },
    };
    const body = {
      name: 'args',
      required: true,
      in: 'body',
      schema: {
        description: fn.comment ?? undefined,
        type: 'object',
        properties: Object.fromEntries(
          params.map((a) => [
            a.name,
            {
              format: swaggerFormat(a.type.format),
              type: swaggerType(a.type.format),
              items: arrayItems(a.type.format),
            },
          ]),
        ),
        required: nonEmpty(params.filter((a) => !a.hasDefault).map((a) => a.name)),
      },
    };
    const query = params.map((a): Json => {
      const type = a.type.format;
      if (a.mode === 'variadic')
        return {
          name: a.name,
          required: !a.hasDefault,
          in: 'query',
          type: swaggerType(type) ?? 'string',
          items: { type: swaggerType(type.slice(0, -2)), format: swaggerFormat(type.slice(0, -2)) },
          collectionFormat: 'multi',
        };
      const swagger = swaggerType(type);
      // In a query string an array is written {a,b} and json as text: both are strings there.
      return {
        name: a.name,
        required: !a.hasDefault,
        in: 'query',
        format: swaggerFormat(type),
        type: swagger === undefined || swagger === 'array' ? 'string' : swagger,
      };
    });
    paths[`/rpc/${fn.name}`] = {
      ...(fn.volatility === 'volatile' ? {} : { get: { ...operation, parameters: query } }),
      post: { ...operation, parameters: [body, ref('preferParams')] },
    };
  }

  return {
    swagger: '2.0',
    info: {
      // A schema comment's first line is the title, the rest (maybe nothing) the description.
      description:
        info.summary === undefined ? 'This is a dynamic API generated by PostgREST' : (info.description ?? ''),
      title: info.summary ?? 'PostgREST API',
      version: `${POSTGREST_VERSION} (Trellis)`,
    },
    host: `${url.hostname.includes(':') ? `[${url.hostname}]` : url.hostname}:${port}`,
    basePath: url.pathname,
    schemes: [url.protocol.replace(/:$/, '')],
    consumes: MEDIA,
    produces: MEDIA,
    paths,
    definitions,
    parameters,
    externalDocs: {
      description: 'PostgREST Documentation',
      url: `https://postgrest.org/en/v${POSTGREST_VERSION.split('.')[0]}/references/api.html`,
    },
  };
}

/** The media type the root answers in for an Accept header, or undefined when none fits. */
export function openApiMediaType(accept: string | undefined): string | undefined {
  if (accept === undefined || accept.trim() === '') return 'application/openapi+json';
  for (const entry of accept.split(',')) {
    const type = (entry.split(';')[0] ?? '').trim().toLowerCase();
    if (type === 'application/openapi+json' || type === '*/*' || type === 'application/*')
      return 'application/openapi+json';
    if (type === 'application/json') return 'application/json';
  }
  return undefined;
}

export async function openApiRoot(ctx: RestContext, c: Context<KeyEnv>): Promise<Response> {
  const claims = await requestClaims(ctx, c);
  const accept = headerOf(c, 'accept');
  const media = openApiMediaType(accept);
  if (!media) throw new ApiError(406, 'PGRST107', `None of these media types are available: ${accept ?? ''}`);
  const schemas = ctx.services.config.rest.schemas;
  const schema = chooseSchema(schemas, headerOf(c, 'accept-profile'));
  // Read as the caller: the privilege columns of the catalog answer for the caller's role.
  const catalog = await ctx.services.db.withClaims(claims, (tx) => readCatalog(tx, [schema]), { readOnly: true });
  const document = buildOpenApi(catalog, schema, { publicUrl: ctx.services.config.publicUrl });
  const headers = { 'content-type': `${media}; charset=utf-8` };
  if (c.req.method === 'HEAD') return c.body(null, 200, headers);
  return c.body(stringifyJson(document), 200, headers);
}
