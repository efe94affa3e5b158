/**
 * The EXPLAIN media type as a request asks it: `Accept: application/vnd.pgrst.plan+json;
 * for="application/json"; options=analyze|verbose|settings|buffers|wal` (postgrest-js `.explain()`
 * sends a trailing `;` and an empty `options=` when none). Pure.
 */
export type PlanOption = 'analyze' | 'verbose' | 'settings' | 'buffers' | 'wal';

export interface PlanMedia {
  readonly format: 'json' | 'text';
  /** The media type whose plan is asked (`for=`, default application/json), echoed in Content-Type. */
  readonly for: string;
  readonly options: readonly PlanOption[];
  /** The Accept header's media types, for the 406 when plans are disabled. */
  readonly accepted: readonly string[];
}

/** In EXPLAIN's own order, as PostgREST writes them; unknown options are ignored, as PostgREST does. */
const OPTIONS: readonly PlanOption[] = ['analyze', 'verbose', 'settings', 'buffers', 'wal'];

/** Splits on `sep` outside double quotes. */
function splitOutsideQuotes(text: string, sep: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoted = !quoted;
    else if (ch === sep && !quoted) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** The plan media type when the Accept header's first plan entry asks for one. Pure. */
export function parsePlanMedia(accept: string | undefined): PlanMedia | undefined {
  if (!accept || !/vnd\.pgrst\.plan/i.test(accept)) return undefined;
  const entries = splitOutsideQuotes(accept, ',');
  const parsed = entries.map(parseEntry).filter((e) => e.type !== '');
  // Named as PostgREST names them in its 406: a plan type rebuilt from what it understood.
  const accepted = parsed.map((e) => (e.plan ? planMime(e.plan) : e.type.toLowerCase()));
  const first = parsed.find((e) => e.plan)?.plan;
  return first && { ...first, accepted };
}

function planMime(p: Omit<PlanMedia, 'accepted'>): string {
  return `application/vnd.pgrst.plan+${p.format}; for="${p.for}"${p.options.length ? `; options=${p.options.join('|')}` : ''}`;
}

function parseEntry(entry: string): { readonly type: string; readonly plan?: Omit<PlanMedia, 'accepted'> } {
  const [type = '', ...rawParams] = splitOutsideQuotes(entry, ';').map((p) => p.trim());
  const sub = /^application\/vnd\.pgrst\.plan(\+json|\+text)?$/i.exec(type);
  if (!sub) return { type };
  const params = new Map<string, string>();
  for (const p of rawParams) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    params.set(
      p.slice(0, eq).trim().toLowerCase(),
      p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1'),
    );
  }
  const asked = new Set((params.get('options') ?? '').split('|').map((o) => o.trim().toLowerCase()));
  return {
    type,
    plan: {
      format: sub[1]?.toLowerCase() === '+json' ? 'json' : 'text',
      for: params.get('for') || 'application/json',
      options: OPTIONS.filter((o) => asked.has(o)),
    },
  };
}

/** What a table or view can be answered as (PostgREST's built-in handlers); geo+json is checked later. */
const RELATION_MEDIA = new Set([
  '*/*',
  'application/*',
  'application/json',
  'text/csv',
  'application/geo+json',
  'application/vnd.pgrst.object+json',
  'application/vnd.pgrst.object',
  'application/vnd.pgrst.array+json',
  'application/vnd.pgrst.array',
  'application/vnd.pgrst.plan',
  'application/vnd.pgrst.plan+json',
  'application/vnd.pgrst.plan+text',
]);

/**
 * The media types of an Accept header that a table or view cannot be answered as, when none of
 * them can: PostgREST's 406 lists them all. Undefined when one is acceptable (or the header is
 * empty, which is `*\/*`). Pure.
 */
export function unacceptableMedia(accept: string | undefined): readonly string[] | undefined {
  if (!accept || accept.trim() === '') return undefined;
  const types = splitOutsideQuotes(accept, ',')
    .map((entry) => (splitOutsideQuotes(entry, ';')[0] ?? '').trim().toLowerCase())
    .filter((t) => t !== '');
  if (types.length === 0 || types.some((t) => RELATION_MEDIA.has(t))) return undefined;
  return types;
}
