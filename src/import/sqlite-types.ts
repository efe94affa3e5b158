/**
 * One SQLite column → one PostgreSQL column type, decided from the declared type and a profile of
 * every value, with the reason said in words; and its DEFAULT translated for that type. Pure.
 */
import { parseDateText, type ColumnProfile, type Sample } from './sqlite-profile.js';
import { tokenize } from './sqlite-sql.js';

/** How the loader turns a SQLite value into the PostgreSQL column's text. */
export type Conversion =
  'bigint' | 'double' | 'numeric' | 'boolean' | 'timestamptz' | 'date' | 'jsonb' | 'uuid' | 'text' | 'bytea';

export interface TypeDecision {
  /** The PostgreSQL type as written in DDL (`bigint`, `numeric(10,2)`, `varchar(80)`). */
  readonly type: string;
  readonly convert: Conversion;
  readonly reason: string;
  /** Set when the decision departs from the declared type: the user should read it. */
  readonly warning?: boolean;
}

export interface ColumnFacts {
  readonly declared: string;
  /** INTEGER PRIMARY KEY of a rowid table: an alias of the rowid. */
  readonly rowidAlias: boolean;
  /** Chosen by the caller (the users table's UUID ids and the columns that reference them). */
  readonly wantUuid?: boolean;
}

/** SQLite's type affinity rules (datatype3.html §3.1), in their order. */
export function affinity(declared: string): 'INTEGER' | 'TEXT' | 'BLOB' | 'REAL' | 'NUMERIC' {
  const d = declared.toUpperCase();
  if (d.includes('INT')) return 'INTEGER';
  if (d.includes('CHAR') || d.includes('CLOB') || d.includes('TEXT')) return 'TEXT';
  if (d.includes('BLOB') || d.trim() === '') return 'BLOB';
  if (d.includes('REAL') || d.includes('FLOA') || d.includes('DOUB')) return 'REAL';
  return 'NUMERIC';
}

const at = (s: Sample | undefined): string => (s ? `${s.row} holds '${s.value}'` : 'a value does not fit');

export function decideType(facts: ColumnFacts, p: ColumnProfile): TypeDecision {
  const declared = facts.declared.trim();
  const d = declared.toUpperCase();
  const shown = declared === '' ? 'no type' : declared;
  if (facts.rowidAlias)
    return {
      type: 'bigint',
      convert: 'bigint',
      reason: 'INTEGER PRIMARY KEY (the rowid): identity, its sequence set past the largest id after the data',
    };
  const onlyTexts = p.texts === p.nonNull;
  const numbers = p.integers + p.reals === p.nonNull;
  const empty = p.nonNull === 0;
  const wantsBool = /\bBOOL/.test(d);
  const wantsDate = /DATE|TIME/.test(d) && !d.includes('INT');
  const wantsJson = /\bJSONB?\b/.test(d);
  const wantsUuid = facts.wantUuid === true || /\bUUID\b/.test(d);
  const aff = affinity(declared);

  if (wantsUuid) {
    if (empty || (onlyTexts && p.uuid)) return { type: 'uuid', convert: 'uuid', reason: 'every value is a UUID' };
    if (facts.wantUuid)
      return fallback(p, shown, `not a UUID: ${at(p.firstNotUuid ?? p.firstInteger ?? p.firstReal ?? p.firstBlob)}`);
  }
  if (wantsBool) {
    if (empty || (p.boolish && p.reals === 0 && p.blobs === 0))
      return { type: 'boolean', convert: 'boolean', reason: `declared ${shown}, every value 0/1 or true/false` };
    if (p.integers === p.nonNull)
      return warn('bigint', 'bigint', `declared ${shown} but ${at(p.firstNotBool)}: bigint keeps every value`);
    return fallback(p, shown, `declared ${shown} but ${at(p.firstNotBool)}`);
  }
  const textish = aff === 'TEXT' || declared === '' || wantsDate || wantsJson;
  if (textish && !empty) {
    // Epoch integers count as date-times only where the column says it holds date-times.
    const datey = wantsDate ? p.integers + p.texts === p.nonNull && p.texts + p.integers > 0 : onlyTexts;
    if (datey && p.dates && !(wantsJson && !wantsDate)) {
      if (p.dateOnly && p.integers === 0)
        return { type: 'date', convert: 'date', reason: 'every value is a date (YYYY-MM-DD)' };
      const notes = [
        p.zoneless > 0 ? `${p.zoneless} without a zone read as UTC, as SQLite's CURRENT_TIMESTAMP writes them` : '',
        p.integers > 0 ? `${p.integers} unix epoch seconds` : '',
      ].filter((n) => n !== '');
      return {
        type: 'timestamptz',
        convert: 'timestamptz',
        reason: `every value is a date-time${notes.length ? ` (${notes.join('; ')})` : ''}`,
      };
    }
    if (onlyTexts && p.json && !wantsDate)
      return { type: 'jsonb', convert: 'jsonb', reason: 'every value is a JSON object or array' };
    if (wantsDate)
      return fallback(
        p,
        shown,
        `declared ${shown} but ${at(p.firstNotDate ?? p.firstReal ?? p.firstBlob)}, not a date`,
      );
    if (wantsJson)
      return fallback(
        p,
        shown,
        `declared ${shown} but ${at(p.firstNotJson ?? p.firstInteger ?? p.firstReal)}, not a JSON object or array`,
      );
  }
  if (empty) {
    if (wantsDate) return { type: 'timestamptz', convert: 'timestamptz', reason: `declared ${shown}, no values` };
    if (wantsJson) return { type: 'jsonb', convert: 'jsonb', reason: `declared ${shown}, no values` };
  }
  switch (aff) {
    case 'INTEGER':
      if (p.integers === p.nonNull) return { type: 'bigint', convert: 'bigint', reason: `declared ${shown}` };
      if (numbers)
        return warn(
          'numeric',
          'numeric',
          `declared ${shown} but ${at(p.firstReal)}: numeric keeps every value exactly`,
        );
      return fallback(p, shown, `declared ${shown} but ${at(p.firstText ?? p.firstBlob)}`);
    case 'REAL':
      if (numbers) return { type: 'double precision', convert: 'double', reason: `declared ${shown}` };
      return fallback(p, shown, `declared ${shown} but ${at(p.firstText ?? p.firstBlob)}`);
    case 'NUMERIC': {
      const m = /\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)/.exec(d);
      const type = /DEC|NUMERIC/.test(d) && m ? `numeric(${m[1]}${m[2] !== undefined ? `,${m[2]}` : ''})` : 'numeric';
      if (numbers) return { type, convert: 'numeric', reason: `declared ${shown}` };
      return fallback(p, shown, `declared ${shown} but ${at(p.firstText ?? p.firstBlob)}`);
    }
    case 'TEXT': {
      if (!onlyTexts)
        return fallback(p, shown, `declared ${shown} but ${at(p.firstBlob ?? p.firstInteger ?? p.firstReal)}`);
      const m = /CHAR\s*\(\s*(\d+)\s*\)/.exec(d);
      if (!m) return { type: 'text', convert: 'text', reason: `declared ${shown}` };
      const n = Number(m[1]);
      if (p.maxChars <= n && n > 0)
        return { type: `varchar(${n})`, convert: 'text', reason: `declared ${shown}, every value fits` };
      return warn(
        'text',
        'text',
        `declared ${shown} but the longest value has ${p.maxChars} characters (SQLite does not enforce lengths)`,
      );
    }
    default:
      if (declared !== '') {
        if (p.blobs === p.nonNull) return { type: 'bytea', convert: 'bytea', reason: `declared ${shown}` };
        return fallback(p, shown, `declared ${shown} but ${at(p.firstText ?? p.firstInteger ?? p.firstReal)}`);
      }
      if (empty) return { type: 'text', convert: 'text', reason: 'no declared type and no values' };
      if (p.integers === p.nonNull)
        return { type: 'bigint', convert: 'bigint', reason: 'no declared type; every value an integer' };
      if (numbers)
        return { type: 'double precision', convert: 'double', reason: 'no declared type; every value a number' };
      if (p.blobs === p.nonNull)
        return { type: 'bytea', convert: 'bytea', reason: 'no declared type; every value a blob' };
      if (onlyTexts) return { type: 'text', convert: 'text', reason: 'no declared type; every value text' };
      return fallback(p, shown, 'no declared type and values of several kinds');
  }
}

const warn = (type: string, convert: Conversion, reason: string): TypeDecision => ({
  type,
  convert,
  reason,
  warning: true,
});

/** Values that disagree with the column (SQLite's dynamic typing) land as text, each written as SQLite prints it. */
function fallback(p: ColumnProfile, shown: string, why: string): TypeDecision {
  if (p.blobs > 0 && p.blobs === p.nonNull) return warn('bytea', 'bytea', `${why}: bytea`);
  return warn('text', 'text', `${why}: text${p.blobs > 0 ? ' (blobs as \\x hex)' : ''}`);
}

export type DefaultTranslation = { readonly sql?: string } | { readonly error: string };

const NOW =
  /^(current_timestamp|datetime\s*\(\s*'now'\s*\)|strftime\s*\(\s*'%Y-%m-%d %H:%M:%(S|f)'\s*,\s*'now'\s*\))$/i;
const TODAY = /^(current_date|date\s*\(\s*'now'\s*\))$/i;
const EPOCH =
  /^(unixepoch\s*\(\s*\)|unixepoch\s*\(\s*'now'\s*\)|strftime\s*\(\s*'%s'\s*,\s*'now'\s*\)|cast\s*\(\s*strftime\s*\(\s*'%s'\s*,\s*'now'\s*\)\s+as\s+integer\s*\))$/i;
const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i;
const quote = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** SQLite's DEFAULT expression (as PRAGMA table_info gives it) for a column of `type`. */
export function translateDefault(expression: string, type: string, convert: Conversion): DefaultTranslation {
  let e = expression.trim();
  while (e.startsWith('(') && e.endsWith(')')) e = e.slice(1, -1).trim();
  const textual = convert === 'text';
  if (/^null$/i.test(e)) return {};
  if (NOW.test(e)) {
    if (convert === 'timestamptz') return { sql: 'now()' };
    if (convert === 'date') return { sql: 'current_date' };
    if (textual) return { sql: `to_char(now() at time zone 'utc', 'YYYY-MM-DD HH24:MI:SS')` };
  } else if (TODAY.test(e)) {
    if (convert === 'date' || convert === 'timestamptz') return { sql: 'current_date' };
    if (textual) return { sql: `to_char(now() at time zone 'utc', 'YYYY-MM-DD')` };
  } else if (/^current_time$/i.test(e)) {
    if (textual) return { sql: `to_char(now() at time zone 'utc', 'HH24:MI:SS')` };
  } else if (EPOCH.test(e)) {
    if (convert === 'bigint') return { sql: 'extract(epoch from now())::bigint' };
    if (convert === 'timestamptz') return { sql: 'now()' };
  } else if (/^(true|false)$/i.test(e) || NUMBER.test(e)) {
    const lower = e.toLowerCase();
    if (convert === 'boolean') {
      if (lower === 'true' || lower === '1') return { sql: 'true' };
      if (lower === 'false' || lower === '0') return { sql: 'false' };
    } else if (convert === 'bigint' || convert === 'double' || convert === 'numeric') {
      return { sql: lower === 'true' ? '1' : lower === 'false' ? '0' : e };
    } else if (textual) {
      return { sql: quote(e) };
    }
  } else {
    const tokens = tokenize(e);
    const t = tokens?.length === 1 ? tokens[0] : undefined;
    if (t?.kind === 'string' && !t.text.includes('\u0000')) {
      const v = t.text;
      if (textual) return { sql: quote(v) };
      if (convert === 'boolean' && /^(true|false|1|0)$/i.test(v))
        return { sql: /^(true|1)$/i.test(v) ? 'true' : 'false' };
      if ((convert === 'bigint' || convert === 'double' || convert === 'numeric') && NUMBER.test(v)) return { sql: v };
      if (convert === 'jsonb' && isJson(v)) return { sql: `${quote(v)}::jsonb` };
      if (convert === 'uuid' && /^[0-9a-f-]{36}$/i.test(v)) return { sql: `${quote(v)}::uuid` };
      const date = parseDateText(v);
      if (convert === 'date' && date?.kind === 'date') return { sql: quote(v) };
      if (convert === 'timestamptz' && date)
        return { sql: quote(date.kind === 'datetime' && !date.zoned ? `${v}+00` : v) };
    } else if (t?.kind === 'blob' && convert === 'bytea' && /^([0-9a-f]{2})*$/i.test(t.text)) {
      return { sql: `'\\x${t.text}'::bytea` };
    }
  }
  return { error: `DEFAULT ${expression} has no ${type} equivalent: dropped` };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
