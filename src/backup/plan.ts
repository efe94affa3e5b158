/** Pure choices of a restore: parsing --to-time, and which backup serves a point in time. */
import type { Manifest } from './manifest.js';

/** ISO-8601 with a date, a time and a zone: a time without a zone means a different instant on every machine. */
const ISO_WITH_ZONE =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?(Z|[+-]\d{2}(?::?\d{2})?)$/i;

export interface RestoreTime {
  readonly time: Date;
  /** As PostgreSQL's recovery_target_time takes it (microseconds kept). */
  readonly text: string;
  /** As the user wrote it, for messages. */
  readonly input: string;
}

export function parseRestoreTime(text: string, now: Date): RestoreTime | string {
  const m = ISO_WITH_ZONE.exec(text.trim());
  if (!m)
    return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(text.trim())
      ? `"${text}" has no time zone; add one, e.g. ${text.trim()}Z or ${text.trim()}+02:00`
      : `"${text}" is not an ISO-8601 time with a zone (e.g. 2026-12-02T01:15:00Z)`;
  const [, y, mo, d, h, mi, s] = m;
  const month = Number(mo);
  const day = Number(d);
  if (month < 1 || month > 12 || day < 1 || day > 31 || Number(h) > 23 || Number(mi) > 59 || Number(s ?? 0) > 59)
    return `"${text}" is not a valid date and time`;
  const trimmed = text.trim();
  const time = new Date(trimmed.replace(' ', 'T'));
  // PostgreSQL's recovery_target_time check refuses the "Z" zone (read as an abbreviation): give an offset.
  const normalised = trimmed.replace('T', ' ').replace(/z$/i, '+00:00');
  if (Number.isNaN(time.getTime())) return `"${text}" is not a valid date and time`;
  // Date silently rolls 2026-02-31 over to March: the day must survive the round trip.
  const check = new Date(Date.UTC(Number(y), month - 1, day));
  if (check.getUTCDate() !== day) return `"${text}" is not a valid date`;
  if (time.getTime() > now.getTime()) return `${text} is in the future`;
  return { time, text: normalised, input: trimmed };
}

export interface Candidate {
  readonly id: string;
  readonly manifest: Manifest;
}

/** The newest backup that ended at or before `time`, or why none does. */
export function chooseBackup(candidates: readonly Candidate[], time: Date | undefined): Candidate | string {
  if (candidates.length === 0) return 'the target holds no complete backup';
  const sorted = [...candidates].sort((a, b) => (a.manifest.stopTime < b.manifest.stopTime ? -1 : 1));
  if (time === undefined) return sorted.at(-1)!;
  const fit = sorted.filter((c) => new Date(c.manifest.stopTime).getTime() <= time.getTime());
  if (fit.length === 0)
    return `${time.toISOString()} is before the end of the oldest backup (${sorted[0]!.id}, ended ${sorted[0]!.manifest.stopTime}): no backup can restore to it`;
  return fit.at(-1)!;
}

/**
 * The path segments a target's `storage/…` key restores to, or undefined when it could reach
 * outside the restored folder: the local store names files by hashes, so a key with an empty, `.`
 * or `..` segment (or a backslash) did not come from it.
 */
export function storageFileParts(key: string): string[] | undefined {
  if (!key.startsWith('storage/')) return undefined;
  const parts = key.slice('storage/'.length).split('/');
  return parts.some((p) => p === '' || p === '.' || p === '..' || p.includes('\\') || p.includes('\u0000'))
    ? undefined
    : parts;
}
