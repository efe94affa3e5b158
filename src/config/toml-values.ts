/**
 * The value forms of supabase/config.toml, read as the Supabase CLI reads them (viper and
 * mapstructure with weak typing): a number may come as a TOML integer or as a string (which is what
 * `env(NAME)` yields), a list as a TOML array or one comma-separated string, a duration in Go's
 * notation ("1s", "1m30s"), a size in docker's notation ("50MiB", "5MB", "500KB"). Each returns the
 * setting's text form (what its environment variable would hold) or a problem.
 */

export type TomlKind = 'int' | 'bool' | 'string' | 'list' | 'duration' | 'size';

export type Coerced = { readonly ok: true; readonly raw: string } | { readonly ok: false; readonly problem: string };

const ok = (raw: string): Coerced => ({ ok: true, raw });
const bad = (problem: string): Coerced => ({ ok: false, problem });

/** How a TOML value is named in a message: its type, and the value when short. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${String(value)}`;
  if (typeof value === 'boolean') return `the boolean ${String(value)}`;
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return 'a date';
  return 'a table';
}

export function coerce(kind: TomlKind, value: unknown): Coerced {
  switch (kind) {
    case 'int':
      if (typeof value === 'number' && Number.isInteger(value)) return ok(String(value));
      if (typeof value === 'bigint') return ok(String(value));
      if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) return ok(value.trim());
      return bad(`must be a whole number (got ${describeValue(value)})`);
    case 'bool':
      if (typeof value === 'boolean') return ok(String(value));
      if (typeof value === 'string' && /^(true|false|1|0)$/i.test(value.trim()))
        return ok(/^(true|1)$/i.test(value.trim()) ? 'true' : 'false');
      return bad(`must be true or false (got ${describeValue(value)})`);
    case 'string':
      if (typeof value === 'string') return ok(value);
      return bad(`must be a string (got ${describeValue(value)})`);
    case 'list':
      if (typeof value === 'string') return ok(value);
      if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) {
        if (value.some((v) => v.includes(','))) return bad('entries must not contain a comma');
        return ok(value.join(','));
      }
      return bad(`must be an array of strings (got ${describeValue(value)})`);
    case 'duration': {
      if (typeof value !== 'string')
        return bad(`must be a duration such as "60s" or "1m" (got ${describeValue(value)})`);
      const ms = parseGoDuration(value.trim());
      if (ms === undefined) return bad(`must be a duration such as "60s" or "1m" (got ${describeValue(value)})`);
      // Trellis counts these in whole seconds; a fraction rounds up so that "500ms" is not "no minimum".
      return ok(String(Math.ceil(ms / 1000)));
    }
    case 'size': {
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return ok(String(value));
      const bytes = typeof value === 'string' ? parseSizeInBytes(value.trim()) : undefined;
      if (bytes === undefined) return bad(`must be a size such as "50MiB" or "500KB" (got ${describeValue(value)})`);
      return ok(String(bytes));
    }
  }
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** Go's time.ParseDuration, unsigned: "1h30m", "1.5s", "0". Milliseconds, or undefined. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '0') return 0;
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  if (text === '') return undefined;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    if (!match) return undefined;
    total += Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? ''] ?? Number.NaN);
    at = part.lastIndex;
  }
  return Number.isFinite(total) ? total : undefined;
}

const BINARY_PREFIX: Readonly<Record<string, number>> = {
  '': 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
  p: 1024 ** 5,
};

/**
 * The CLI's file_size_limit: docker's RAMInBytes, where every prefix is binary whatever the spelling
 * ("5MB", "5mb", "5MiB" and "5m" are all 5,242,880 bytes). This differs from the storage API's own
 * parser of a bucket's limit (where "5MB" is 5,000,000): a config.toml value means what it meant to
 * the Supabase CLI that passed it on as a byte count.
 */
export function parseSizeInBytes(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(text);
  if (!match) return undefined;
  const amount = Number.parseFloat(match[1] ?? '');
  const factor = BINARY_PREFIX[(match[2] ?? '').toLowerCase()] ?? Number.NaN;
  const bytes = Math.trunc(amount * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
