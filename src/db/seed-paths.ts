/**
 * [db.seed] sql_paths as the Supabase CLI expands them: each entry a path or a glob relative to the
 * supabase/ folder, with Go's path.Match syntax (`*` and `?` within one path segment, `[a-z]`
 * classes, `\` escapes; no `**`). Each pattern's matches are sorted; the patterns keep their order,
 * and a file matched twice runs once, where it first appeared.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

const META = /[*?[\\]/;

/** A JavaScript RegExp for one segment of a Go glob, or undefined for a malformed pattern. */
export function segmentPattern(glob: string): RegExp | undefined {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] ?? '';
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= glob.length) return undefined;
      out += escapeRegex(glob[i] ?? '');
    } else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) return undefined;
      let body = glob.slice(i + 1, end);
      const negate = body.startsWith('^');
      if (negate) body = body.slice(1);
      if (body === '') return undefined;
      // Inside a class only `]`, `\` and `^` need care: escape all but the range dash.
      const escaped = body.replace(/\\(.)/g, '$1').replace(/[\]\\^]/g, '\\$&');
      out += `[${negate ? '^' : ''}${escaped}]`;
      i = end;
    } else out += escapeRegex(c);
  }
  return new RegExp(`^${out}$`, 's');
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export interface SeedFiles {
  /** Absolute paths of the files to run, in order. */
  readonly files: readonly string[];
  /** Patterns that matched no file (the CLI warns about each and goes on). */
  readonly unmatched: readonly string[];
}

/** Expands the patterns against the file system, relative to `dir` (absolute patterns stay). */
export async function resolveSeedFiles(dir: string, patterns: readonly string[]): Promise<SeedFiles> {
  const files: string[] = [];
  const unmatched: string[] = [];
  for (const pattern of patterns) {
    if (pattern === '') continue;
    const absolute = path.resolve(dir, pattern);
    const root = path.parse(absolute).root;
    const segments = absolute
      .slice(root.length)
      .split(path.sep)
      .filter((s) => s !== '');
    const found = (await expand(root, segments)).sort();
    if (found.length === 0) unmatched.push(pattern);
    for (const file of found) if (!files.includes(file)) files.push(file);
  }
  return { files, unmatched };
}

async function expand(base: string, segments: readonly string[]): Promise<string[]> {
  const [head, ...rest] = segments;
  if (head === undefined) return (await isFile(base)) ? [base] : [];
  if (!META.test(head)) return expand(path.join(base, head), rest);
  const pattern = segmentPattern(head);
  if (!pattern) return [];
  const names = await fs.readdir(base).catch(() => [] as string[]);
  const nested = await Promise.all(names.filter((n) => pattern.test(n)).map((n) => expand(path.join(base, n), rest)));
  return nested.flat();
}

async function isFile(file: string): Promise<boolean> {
  return fs.stat(file).then(
    (s) => s.isFile(),
    () => false,
  );
}
