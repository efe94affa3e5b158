/**
 * The last log records of level warn and above, kept in memory for Studio's log page: a pino
 * stream (logger.ts adds it beside stdout, the one place it is hooked in). What it keeps is
 * scrubbed as it arrives: fields named like secrets, JWTs, passwords in URLs and webhook secrets
 * never reach the ring, whatever the line that logged them.
 */
import type { Logger } from 'pino';

export type RecentLevel = 'warn' | 'error' | 'fatal';

export interface RecentLogRecord {
  readonly time: string;
  readonly level: RecentLevel;
  readonly msg: string;
  /** The record's other fields (err, reqId, topic …), scrubbed. */
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface RecentLogFilter {
  /** The lowest level shown. */
  readonly level?: RecentLevel;
  /** Records at or after this time. */
  readonly since?: Date;
  /** Text in the message or the fields, case-insensitive. */
  readonly text?: string;
  readonly limit?: number;
}

const LEVELS: Readonly<Record<number, RecentLevel>> = { 40: 'warn', 50: 'error', 60: 'fatal' };
const RANK: Readonly<Record<RecentLevel, number>> = { warn: 40, error: 50, fatal: 60 };
/** pino's own fields, shown as time/level/msg or not at all. */
const OWN = new Set(['time', 'level', 'msg', 'pid', 'hostname']);
const SECRET_NAME = /pass(word)?|secret|token|api_?key|authorization|cookie|private|credential|^jwk$|^d$/i;
const MAX_STRING = 4000;
const MAX_DEPTH = 6;

/** Strings that are secrets whatever field they are in. */
const SECRET_TEXT: readonly [RegExp, string][] = [
  [/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g, '[redacted jwt]'],
  [/\b([a-z][a-z0-9+.-]*:\/\/[^\s:@/]*):[^\s@/]+@/gi, '$1:[redacted]@'],
  [/v1,whsec_[A-Za-z0-9+/=]+/g, 'v1,whsec_[redacted]'],
  [/\bsb_secret_[A-Za-z0-9_-]+/g, 'sb_secret_[redacted]'],
  [/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 [redacted]'],
];

export function scrubText(text: string): string {
  let out = text.length > MAX_STRING ? `${text.slice(0, MAX_STRING)}…` : text;
  for (const [pattern, replacement] of SECRET_TEXT) out = out.replace(pattern, replacement);
  return out;
}

/** A copy of `value` with secret-named fields and secret-looking strings replaced. */
export function scrubValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_DEPTH) return '[nested too deep]';
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => scrubValue(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>))
    out[k] = SECRET_NAME.test(k) && v !== null && v !== undefined && v !== '' ? '[redacted]' : scrubValue(v, depth + 1);
  return out;
}

export class RecentLogs {
  readonly #records: (RecentLogRecord | undefined)[];
  #next = 0;

  constructor(readonly capacity = 500) {
    this.#records = new Array<RecentLogRecord | undefined>(capacity);
  }

  /** pino's stream interface: one JSON line a record. */
  write(line: string): void {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    const level = LEVELS[Number(parsed.level)] ?? (Number(parsed.level) > 60 ? 'fatal' : undefined);
    if (!level) return;
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(parsed)) if (!OWN.has(k)) fields[k] = v;
    const time = typeof parsed.time === 'number' ? new Date(parsed.time) : new Date();
    this.#records[this.#next % this.capacity] = {
      time: time.toISOString(),
      level,
      msg: scrubText(typeof parsed.msg === 'string' ? parsed.msg : ''),
      fields: scrubValue(fields) as Record<string, unknown>,
    };
    this.#next += 1;
  }

  /** Newest first. */
  list(filter: RecentLogFilter = {}): RecentLogRecord[] {
    const min = RANK[filter.level ?? 'warn'];
    const since = filter.since?.getTime();
    const text = filter.text?.toLowerCase();
    const out: RecentLogRecord[] = [];
    const kept = Math.min(this.#next, this.capacity);
    for (let i = 1; i <= kept && out.length < (filter.limit ?? this.capacity); i++) {
      const r = this.#records[(this.#next - i) % this.capacity]!;
      if (RANK[r.level] < min) continue;
      if (since !== undefined && Date.parse(r.time) < since) continue;
      if (text && !`${r.msg} ${JSON.stringify(r.fields)}`.toLowerCase().includes(text)) continue;
      out.push(r);
    }
    return out;
  }
}

const byLogger = new WeakMap<Logger, RecentLogs>();

/** The ring createLogger gave this logger (undefined for one made elsewhere: a test's own). */
export function recentLogsOf(log: Logger): RecentLogs | undefined {
  return byLogger.get(log);
}

export function attachRecentLogs(log: Logger, ring: RecentLogs): Logger {
  byLogger.set(log, ring);
  return log;
}
