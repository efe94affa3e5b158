/**
 * `Accept: …;nulls=stripped` (postgrest-js `.stripNulls()`): PostgREST answers the JSON without
 * the object fields that are null (json_strip_nulls). Pure.
 */
import { isJsonObject } from '../platform/json.js';

/** The media types PostgREST strips nulls for; `application/json;nulls=stripped` is not one of them. */
const STRIPPABLE = new Set([
  'application/vnd.pgrst.object+json',
  'application/vnd.pgrst.object',
  'application/vnd.pgrst.array+json',
  'application/vnd.pgrst.array',
]);

/** Whether an Accept header asks for null fields stripped. */
export function acceptsStrippedNulls(accept: string): boolean {
  return accept.split(',').some((entry) => {
    const [type = '', ...params] = entry.split(';').map((part) => part.trim().toLowerCase());
    return STRIPPABLE.has(type) && params.some((p) => p.replace(/\s+/g, '') === 'nulls=stripped');
  });
}

/** The Content-Type of a stripped answer, as PostgREST labels it. */
export function strippedContentType(single: boolean): string {
  return `application/vnd.pgrst.${single ? 'object' : 'array'}+json;nulls=stripped; charset=utf-8`;
}

/**
 * json_strip_nulls: every object, however deep, loses its null fields; nulls inside arrays stay.
 * Numbers (JsonNumber from parseJson) pass through as they are.
 */
export function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (!isJsonObject(value)) return value;
  // fromEntries defines each key as its own field (a `__proto__` key stays a field, as in the JSON).
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, field]) => field !== null)
      .map(([key, field]) => [key, stripNulls(field)]),
  );
}
