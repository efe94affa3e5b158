/**
 * Where the signing keys come from, strongest first: AUTH_JWT_KEYS (JSON, as GoTrue's
 * GOTRUE_JWT_KEYS), the file AUTH_SIGNING_KEYS_PATH names (the Supabase CLI's signing_keys_path),
 * or `.trellis/signing-keys.json`, which `trellis keys` writes. None: the JWT secret signs (HS256).
 */
import { unwatchFile, watchFile } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { JWK } from 'jose';
import type { Config } from '../config.js';
import { FatalError, errorMessage } from '../errors.js';
import { createKeySet, parseKeyList, type KeyEntry, type KeySet } from '../platform/keyset.js';
import type { Logger } from '../platform/logger.js';

export const KEYS_FILE = 'signing-keys.json';

/** Where the keys are read from, and whether `trellis keys` may write there. */
export interface KeySource {
  /** A label for messages: the variable or the file. */
  readonly label: string;
  /** The file, when the keys live in one. */
  readonly file: string | undefined;
  /** A missing file is no keys (the data folder's) rather than an error (a configured path). */
  readonly optional: boolean;
}

export function keySource(config: Config): KeySource {
  if (config.auth.jwtKeys !== undefined) return { label: 'AUTH_JWT_KEYS', file: undefined, optional: false };
  if (config.auth.signingKeysPath !== undefined)
    return { label: config.auth.signingKeysPath, file: config.auth.signingKeysPath, optional: false };
  const file = path.join(config.dataDir, KEYS_FILE);
  return { label: file, file, optional: true };
}

/**
 * The configured keys' JWKs as written (undefined: no file yet). `creating`: a configured file that
 * does not exist yet is no keys (`trellis keys generate` makes it); a start needs it to exist.
 */
export async function readKeyJwks(config: Config, creating = false): Promise<JWK[] | undefined> {
  const source = keySource(config);
  let text: string;
  if (source.file === undefined) {
    text = config.auth.jwtKeys ?? '';
  } else {
    try {
      text = await fs.readFile(source.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && (source.optional || creating)) return undefined;
      throw new FatalError(`cannot read the signing keys: ${errorMessage(err)}`, source.label);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new FatalError('is not valid JSON (a JSON array of JWKs)', source.label);
  }
  checkedEntries(json, source.label);
  return json as JWK[];
}

/** The keys in order, checked; throws a FatalError naming the source and the key. */
function checkedEntries(json: unknown, label: string): KeyEntry[] {
  const parsed = parseKeyList(json);
  if (!parsed.ok) throw new FatalError(parsed.message, label);
  return parsed.keys;
}

/** The key set a start verifies and signs with. */
export async function loadKeySet(config: Config, jwtSecret: string): Promise<KeySet> {
  const jwks = (await readKeyJwks(config)) ?? [];
  const entries = checkedEntries(jwks, keySource(config).label);
  try {
    return await createKeySet(new TextEncoder().encode(jwtSecret), entries);
  } catch (err) {
    // A JWK whose numbers are not a key (x, y off the curve; d not matching) fails only on import.
    throw new FatalError(`a key cannot be used: ${errorMessage(err)}`, keySource(config).label);
  }
}

/** How often a running server looks at its key file (a stat): a rotation applies within this. */
export const KEY_FILE_POLL_MS = 2000;

/**
 * Follows the key file while the server runs: `trellis keys rotate` or `revoke` (or an edited file)
 * takes effect within KEY_FILE_POLL_MS, on every instance that reads the file. A file that cannot
 * be used is logged and the keys in use stay. Polled (a stat), not inotify: `writeKeyJwks` renames
 * a new file over the old one, and network and container mounts deliver no events. Keys from
 * AUTH_JWT_KEYS change with the environment, at a restart: nothing to follow.
 */
export function followKeyFile(
  config: Config,
  jwtSecret: string,
  onKeys: (set: KeySet) => void,
  log: Logger,
): { close(): Promise<void> } | undefined {
  const file = keySource(config).file;
  if (file === undefined) return undefined;
  let latest = 0;
  const listener = (now: { mtimeMs: number; ino: number; size: number }) => {
    const change = ++latest;
    loadKeySet(config, jwtSecret).then(
      (set) => {
        if (change !== latest) return; // a newer change is being read
        onKeys(set);
        log.info({ file, signer: set.signer.kid ?? 'the JWT secret', size: now.size }, 'signing keys reloaded');
      },
      (err: unknown) =>
        log.error({ file, err: errorMessage(err) }, 'the changed signing keys cannot be used; the keys in use stay'),
    );
  };
  watchFile(file, { interval: KEY_FILE_POLL_MS, persistent: false }, listener);
  return {
    close: async () => unwatchFile(file, listener),
  };
}

/** Writes the keys (0600, atomically: a running start never reads half a file). */
export async function writeKeyJwks(file: string, keys: readonly JWK[]): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(temp, `${JSON.stringify(keys, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(temp, file);
}
