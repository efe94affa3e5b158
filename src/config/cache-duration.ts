/**
 * How long a response may be cached: `30s`, `5m`, `1h`, `1d`, or bare seconds. Shared by the
 * REST_CACHE_TABLES setting and the `@cache` directive of a table's comment. Pure.
 */

/** A day: a longer TTL would only mean that a lost invalidation is never repaired. */
export const MAX_CACHE_TTL_MS = 86_400_000;

const UNITS: Readonly<Record<string, number>> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or a message saying what is wrong. */
export function parseCacheDuration(text: string): { ok: true; ms: number } | { ok: false; message: string } {
  const match = /^(\d{1,9})(s|m|h|d)?$/.exec(text.trim());
  const ms = match ? Number(match[1]) * (UNITS[match[2] ?? ''] ?? 1000) : Number.NaN;
  if (!match || ms < 1000 || ms > MAX_CACHE_TTL_MS)
    return { ok: false, message: `"${text.slice(0, 40)}" is not a duration between 1s and 1d (like 30s, 5m, 1h)` };
  return { ok: true, ms };
}

/** `public.rooms=30s, public.menu=5m` -> relation -> milliseconds, or a message. */
export function parseCacheTables(
  text: string,
): { ok: true; tables: Map<string, number> } | { ok: false; message: string } {
  const tables = new Map<string, number>();
  for (const part of text.split(',')) {
    if (part.trim() === '') continue;
    const eq = part.lastIndexOf('=');
    const name = part.slice(0, eq).trim();
    if (eq <= 0 || !/^[^.\s=]+\.[^.\s=]+$/.test(name))
      return { ok: false, message: `"${part.trim().slice(0, 60)}" is not schema.relation=duration` };
    const ttl = parseCacheDuration(part.slice(eq + 1));
    if (!ttl.ok) return { ok: false, message: `${name}: ${ttl.message}` };
    tables.set(name, ttl.ms);
  }
  return { ok: true, tables };
}
