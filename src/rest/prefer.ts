/** The `Prefer` header PostgREST reads (RFC 7240 preferences, comma-separated). */
export interface Preferences {
  readonly return?: 'minimal' | 'headers-only' | 'representation';
  readonly count?: 'exact' | 'planned' | 'estimated';
  readonly resolution?: 'merge-duplicates' | 'ignore-duplicates';
  readonly missing?: 'default' | 'null';
  readonly tx?: 'commit' | 'rollback';
  readonly maxAffected?: number;
  readonly handling?: 'strict' | 'lenient';
}

const ALLOWED: Record<string, readonly string[]> = {
  return: ['minimal', 'headers-only', 'representation'],
  count: ['exact', 'planned', 'estimated'],
  resolution: ['merge-duplicates', 'ignore-duplicates'],
  missing: ['default', 'null'],
  tx: ['commit', 'rollback'],
  handling: ['strict', 'lenient'],
};

/** Unknown or malformed preferences are ignored, as HTTP says (PostgREST's lenient handling). */
export function parsePrefer(header: string | undefined): Preferences {
  const prefs: Record<string, string | number> = {};
  for (const part of (header ?? '').split(',')) {
    const [rawKey, rawValue] = part.split('=', 2).map((s) => s.trim());
    if (!rawKey || rawValue === undefined) continue;
    if (rawKey === 'max-affected') {
      if (/^\d+$/.test(rawValue)) prefs.maxAffected = Number(rawValue);
    } else if (ALLOWED[rawKey]?.includes(rawValue)) {
      prefs[rawKey] = rawValue;
    }
  }
  return prefs;
}
