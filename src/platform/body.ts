/** Request bodies: a size bound for a router (limitBody), and JSON read and validated with zod. */
import { headerOf } from './http.js';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { z } from 'zod';
import { ApiError } from '../errors.js';
import { JsonNumber, parseJson } from './json.js';

export const MAX_JSON_BODY = 256 * 1024;

export interface BodyErrors {
  /** Error code for a body that is not JSON (GoTrue: bad_json). */
  readonly badJson: string;
  /** Error code for JSON of the wrong shape (GoTrue: validation_failed). */
  readonly invalid: string;
}

/** The JSON body validated by `schema`; the size bound is the router's limitBody. */
export async function readJson<S extends z.ZodType>(c: Context, schema: S, codes: BodyErrors): Promise<z.output<S>> {
  const text = (await c.req.text()).trim();
  let json: unknown = {};
  if (text !== '') {
    try {
      // Numbers as written (platform/json.ts): metadata is stored as sent. A body that is one bare
      // number is no object for any schema.
      json = parseJson(text);
      if (json instanceof JsonNumber) json = json.valueOf();
    } catch (err) {
      throw new ApiError(400, codes.badJson, `Could not parse request body as JSON: ${(err as Error).message}`);
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    throw new ApiError(400, codes.invalid, `${where}${issue?.message ?? 'invalid request body'}`);
  }
  return parsed.data;
}

/**
 * A bound on request bodies. A declared Content-Length is checked up front (what clients send for
 * JSON); only a chunked body goes through hono's bodyLimit, which counts while streaming. (That
 * one reads `request.body`, which makes @hono/node-server build a full WHATWG Request: fine for the
 * rare chunked upload, measurable on every ordinary request.)
 */
export function limitBody(maxSize: number, onError: () => never): MiddlewareHandler {
  const streaming = bodyLimit({ maxSize, onError });
  return (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const declared = headerOf(c, 'content-length');
    if (declared === undefined) return streaming(c, next);
    if (!/^\d+$/.test(declared) || Number(declared) > maxSize) onError();
    return next();
  };
}

/** JSON deeper than this is refused: serialising it again would overflow the stack (a 500). */
export const MAX_JSON_DEPTH = 64;

export function jsonDepthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    // A kept number (platform/json.ts) is a leaf, as the number it stands for.
    if (item === null || typeof item !== 'object' || item instanceof JsonNumber) continue;
    if (depth >= max) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Where `value` holds the NUL character, in a key or a string (`prefixes.0`, `metadata.a`; the
 * empty string for `value` itself), or undefined. PostgreSQL's text refuses NUL (22021) and jsonb
 * refuses `\u0000` (22P05), so what would reach it is refused at the parse boundary instead, with
 * the field named. Iterative: hostile depth cannot overflow the stack.
 */
export function nulAt(value: unknown, base = ''): string | undefined {
  const stack: [unknown, string][] = [[value, base]];
  while (stack.length > 0) {
    const [item, path] = stack.pop() as [unknown, string];
    if (typeof item === 'string') {
      if (item.includes('\u0000')) return path;
      continue;
    }
    if (item === null || typeof item !== 'object' || item instanceof JsonNumber) continue;
    for (const [key, child] of Object.entries(item)) {
      const at = path === '' ? key : `${path}.${key}`;
      if (key.includes('\u0000')) return at.replace(/\u0000/g, '\\u0000');
      stack.push([child, at]);
    }
  }
  return undefined;
}

/** The words of a NUL refusal: `prefixes.0 must not contain the NUL character (\u0000)`. */
export function nulMessage(path: string): string {
  return `${path === '' ? 'the value' : path} must not contain the NUL character (\\u0000)`;
}
