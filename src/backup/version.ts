/** Trellis's own version, from its package.json (two folders up from src/backup or dist/backup). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function trellisVersion(): string {
  if (cached) return cached;
  try {
    const text = readFileSync(new URL('../../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    cached = typeof version === 'string' ? version : 'unknown';
  } catch {
    cached = 'unknown';
  }
  return cached;
}
