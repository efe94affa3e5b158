/**
 * What a column's values really are. SQLite types values, not columns ('abc' fits in an INTEGER
 * column), so the planner decides from a profile of every value, not from the declared type alone.
 * Pure: the reader feeds values in, the planner reads the profile.
 */

/** A value seen in a row, kept to explain a decision ("rowid 17: 'abc'"). */
export interface Sample {
  readonly row: string;
  readonly value: string;
}

export interface ColumnProfile {
  nonNull: number;
  integers: number;
  reals: number;
  texts: number;
  blobs: number;
  firstInteger?: Sample;
  firstReal?: Sample;
  firstText?: Sample;
  firstBlob?: Sample;
  /** Longest text, in characters (code points), as varchar(n) counts them. */
  maxChars: number;
  minInteger?: bigint;
  maxInteger?: bigint;
  /** Every value 0/1 or 'true'/'false' (any case) so far. */
  boolish: boolean;
  firstNotBool?: Sample;
  /** Every text a date (YYYY-MM-DD) so far; dates, json and uuid judge texts only (the planner adds the other kinds). */
  dateOnly: boolean;
  /** Every text a date or a date-time so far. */
  dates: boolean;
  firstNotDate?: Sample;
  /** Date-times written without a zone (SQLite's CURRENT_TIMESTAMP writes UTC so). */
  zoneless: number;
  /** Every text a JSON object or array so far. */
  json: boolean;
  firstNotJson?: Sample;
  uuid: boolean;
  firstNotUuid?: Sample;
  /** The first text holding a NUL character, which PostgreSQL text cannot hold. */
  nul?: Sample;
}

export function emptyProfile(): ColumnProfile {
  return {
    nonNull: 0,
    integers: 0,
    reals: 0,
    texts: 0,
    blobs: 0,
    maxChars: 0,
    boolish: true,
    dateOnly: true,
    dates: true,
    zoneless: 0,
    json: true,
    uuid: true,
  };
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATETIME =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?\s?(Z|[+-]\d{2}(?::?\d{2})?)?$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function validDay(y: string, m: string, d: string): boolean {
  const month = Number(m);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > (DAYS[month - 1] as number)) return false;
  if (month !== 2 || day < 29) return true;
  const year = Number(y);
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** 'date', 'datetime' (with `zoned` telling whether it names its zone) or undefined. */
export function parseDateText(text: string): { kind: 'date' } | { kind: 'datetime'; zoned: boolean } | undefined {
  const d = DATE.exec(text);
  if (d) return validDay(d[1] as string, d[2] as string, d[3] as string) ? { kind: 'date' } : undefined;
  const t = DATETIME.exec(text);
  if (!t || !validDay(t[1] as string, t[2] as string, t[3] as string)) return undefined;
  if (Number(t[4]) > 23 || Number(t[5]) > 59 || Number(t[6] ?? 0) > 59) return undefined;
  return { kind: 'datetime', zoned: t[7] !== undefined };
}

const show = (value: unknown): string => {
  const text = Buffer.isBuffer(value) ? `x'${value.subarray(0, 16).toString('hex')}…'` : String(value);
  return text.length > 60 ? `${text.slice(0, 57)}…` : text;
};

/** Adds one value (the reference the reader's SQL-first profile agrees with); `row` names the row, called only for a sample. */
export function profileValue(p: ColumnProfile, value: unknown, row: () => string): void {
  if (value === null || value === undefined) return;
  p.nonNull++;
  if (typeof value === 'bigint') {
    p.integers++;
    p.firstInteger ??= sampleOf(value, row);
    const v = value;
    if (p.minInteger === undefined || v < p.minInteger) p.minInteger = v;
    if (p.maxInteger === undefined || v > p.maxInteger) p.maxInteger = v;
    if (p.boolish && v !== 0n && v !== 1n) {
      p.boolish = false;
      p.firstNotBool = sampleOf(value, row);
    }
    return;
  }
  if (typeof value === 'number') {
    p.reals++;
    p.firstReal ??= sampleOf(value, row);
    if (p.boolish) {
      p.boolish = false;
      p.firstNotBool = sampleOf(value, row);
    }
    return;
  }
  if (typeof value === 'string') {
    p.texts++;
    p.firstText ??= sampleOf(value, row);
    // Code points, as PostgreSQL's varchar(n) counts; length in UTF-16 units only when it could matter.
    if (value.length > p.maxChars) p.maxChars = Math.max(p.maxChars, [...value].length);
    if (!p.nul && value.includes('\u0000')) p.nul = sampleOf(value, row);
    profileText(p, value, row);
    return;
  }
  p.blobs++;
  p.firstBlob ??= sampleOf(value, row);
  if (p.boolish) {
    p.boolish = false;
    p.firstNotBool = sampleOf(value, row);
  }
}

/** Is this text still a boolean, a date, JSON, a UUID? */
export function profileText(p: ColumnProfile, value: string, row: () => string): void {
  if (p.boolish && !/^(true|false)$/i.test(value)) {
    p.boolish = false;
    p.firstNotBool = sampleOf(value, row);
  }
  if (p.dates) {
    const parsed = parseDateText(value);
    if (!parsed) {
      p.dates = false;
      p.dateOnly = false;
      p.firstNotDate = sampleOf(value, row);
    } else if (parsed.kind === 'datetime') {
      p.dateOnly = false;
      if (!parsed.zoned) p.zoneless++;
    }
  }
  if (p.json && !isJsonContainer(value)) {
    p.json = false;
    p.firstNotJson = sampleOf(value, row);
  }
  if (p.uuid && !UUID.test(value)) {
    p.uuid = false;
    p.firstNotUuid = sampleOf(value, row);
  }
}

/** Nothing left to learn from more texts but their length and NULs. */
export const textSettled = (p: ColumnProfile): boolean => !p.boolish && !p.dates && !p.json && !p.uuid;

const sampleOf = (value: unknown, row: () => string): Sample => ({ row: row(), value: show(value) });

/** A JSON object or array that jsonb accepts (jsonb refuses the \u0000 escape). */
function isJsonContainer(text: string): boolean {
  const first = text.trimStart()[0];
  if (first !== '{' && first !== '[') return false;
  if (text.includes('\\u0000')) return false;
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
