/** Small pure text helpers of the executor: psql's \connect argument, INSERT rows, retargeting. */
import { nameAt, tokenize } from './pg-dump-tokens.js';

/** `\connect mydb` or pg_dump -C's `\connect -reuse-previous=on "dbname='mydb'"`: the database. */
export function connectTarget(argument: string): string {
  const named = /dbname=(?:'((?:[^'\\]|\\.)*)'|([^\s"']+))/.exec(argument);
  if (named) return named[2] ?? (named[1] ?? '').replace(/\\(.)/g, '$1');
  const quoted = /^"((?:[^"]|"")*)"/.exec(argument);
  if (quoted) return (quoted[1] ?? '').replaceAll('""', '"');
  return argument.split(/\s+/).find((w) => !w.startsWith('-')) ?? '';
}

/** Rows of a pg_dump INSERT (--rows-per-insert puts each on a line of its own starting with a tab). */
export function insertRows(text: string): number {
  let rows = 0;
  for (let at = text.indexOf('\n\t('); at !== -1; at = text.indexOf('\n\t(', at + 3)) rows++;
  return Math.max(rows, 1);
}

/** `INSERT INTO auth.users (…) VALUES …` → `INSERT INTO pg_temp.stage (…) VALUES …`. */
export function retarget(text: string, stage: string): string {
  const tokens = tokenize(text, 8);
  const name = nameAt(tokens, 2);
  const first = tokens[2];
  const last = name ? tokens[name.next - 1] : undefined;
  if (!first || !last) return text;
  return `${text.slice(0, first.start)}${stage}${text.slice(last.end)}`;
}

/** What a project loses with an extension Trellis's server lacks: named in the warning. */
export const KNOWN_USES: Record<string, string> = {
  pg_graphql: 'the /graphql/v1 endpoint; Trellis serves REST and realtime',
  pgsodium: 'column encryption and security labels',
  supabase_vault: 'vault.secrets',
  pgjwt: 'extensions.sign()/verify() in functions',
  pg_stat_monitor: 'query statistics',
  wrappers: 'foreign data wrappers',
};
