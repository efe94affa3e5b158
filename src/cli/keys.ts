/** `trellis keys`: the project's JWT signing keys (list, generate, rotate, revoke). */
import type { JWK } from 'jose';
import { loadConfig, type Config } from '../config.js';
import { FatalError } from '../errors.js';
import { parseKeyList, signingEntry } from '../platform/keyset.js';
import {
  addKey,
  generateKey,
  revokeKey,
  rotateTo,
  type AsymmetricAlgorithm,
  type KeyChange,
} from '../project/key-file.js';
import { keySource, readKeyJwks, writeKeyJwks } from '../project/signing-keys.js';
import { readRuntimeState } from '../project/state.js';
import { parseFlags } from './args.js';

export const keysHelp = `Usage: trellis keys <command> [--dir D]

The keys that sign access tokens (ES256 or RS256), kept in D/.trellis/signing-keys.json, or in
the file AUTH_SIGNING_KEYS_PATH / [auth] signing_keys_path names (the Supabase CLI's format).
Without keys, the JWT secret signs (HS256). The JWT secret always verifies tokens that name no
key (the anon and service_role keys). A running Trellis applies a change within two seconds.

Commands:
  list [-o json]             the keys, which one signs, which only verify
  generate [--alg ES256|RS256]
                             add a key (default ES256); the first key signs at once, a later one
                             is a standby: published in the JWKS and verifying, not yet signing
  rotate [<kid>] [--alg A]   make <kid> (a standby) sign, or a new key when no kid is given; the
                             previous signing key keeps verifying the tokens it signed
  revoke <kid>               remove a key: tokens it signed are refused (not the signing key)`;

const SUBCOMMANDS = ['list', 'generate', 'rotate', 'revoke'] as const;

export async function keysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${keysHelp}\n`);
    return 0;
  }
  if (!(SUBCOMMANDS as readonly string[]).includes(sub))
    throw new FatalError(`unknown keys command "${sub}" (commands: ${SUBCOMMANDS.join(', ')})`);
  const positional = rest.filter((a, i) => !a.startsWith('-') && !isFlagValue(rest, i));
  const flags = parseFlags(
    `keys ${sub}`,
    rest.filter((a) => !positional.includes(a)),
    { dir: { type: 'string' }, alg: { type: 'string' }, output: { type: 'string', short: 'o' } },
  );
  if (flags.help) {
    process.stdout.write(`${keysHelp}\n`);
    return 0;
  }
  const wantsKid = sub === 'rotate' || sub === 'revoke';
  if (positional.length > (wantsKid ? 1 : 0))
    throw new FatalError(`unexpected argument "${positional[wantsKid ? 1 : 0]}" (see \`trellis keys --help\`)`);
  if (sub === 'revoke' && positional.length === 0) throw new FatalError('which key? `trellis keys revoke <kid>`');
  const config = loadConfig(flags);
  const keys = (await readKeyJwks(config, true)) ?? [];
  if (sub === 'list') return list(config, keys, flags.output);
  const source = keySource(config);
  if (source.file === undefined)
    throw new FatalError('the keys are set by AUTH_JWT_KEYS; change that variable instead', 'keys');
  const kid = positional[0];
  const change: KeyChange =
    sub === 'generate'
      ? addKey(keys, generateKey(algorithm(flags.alg, 'ES256')))
      : sub === 'revoke'
        ? revokeKey(keys, kid ?? '')
        : kid !== undefined
          ? rotateTo(keys, kid)
          : rotateToNew(keys, flags.alg);
  if (!change.ok) throw new FatalError(change.message);
  await writeKeyJwks(source.file, change.keys);
  const running = await readRuntimeState(config.dataDir);
  const applies = running ? ` (Trellis pid ${running.pid} applies it within two seconds)` : '';
  process.stdout.write(`${change.message}${applies}\nkeys: ${source.file}\n`);
  return 0;
}

/** A new key that signs at once; of the current signer's algorithm unless --alg says otherwise. */
function rotateToNew(keys: JWK[], alg: string | boolean | undefined): KeyChange {
  const parsed = parseKeyList(keys);
  const current = parsed.ok ? signingEntry(parsed.keys)?.alg : undefined;
  const key = generateKey(algorithm(alg, current === 'RS256' ? 'RS256' : 'ES256'));
  const added = addKey(keys, key);
  return added.ok ? rotateTo(added.keys, String(key.kid)) : added;
}

function algorithm(given: string | boolean | undefined, fallback: AsymmetricAlgorithm): AsymmetricAlgorithm {
  if (given === undefined) return fallback;
  if (given === 'ES256' || given === 'RS256') return given;
  throw new FatalError(`unsupported algorithm "${String(given)}" (use ES256 or RS256)`, '--alg');
}

/** `--dir D`: D is the flag's value, not a positional kid. */
function isFlagValue(args: readonly string[], index: number): boolean {
  const before = args[index - 1];
  return before !== undefined && /^(--dir|--alg|--output|-o)$/.test(before);
}

function list(config: Config, keys: JWK[], output: string | boolean | undefined): number {
  if (output !== undefined && output !== 'json' && output !== 'table')
    throw new FatalError(`unknown output format "${String(output)}" (use json or table)`, '-o');
  const parsed = parseKeyList(keys);
  const entries = parsed.ok ? parsed.keys : [];
  const signer = signingEntry(entries);
  const rows = entries.map((k) => ({
    kid: k.kid,
    alg: k.alg,
    status: k === signer ? 'signing' : k.canSign || k.jwk.d !== undefined ? 'verify only' : 'verify only (public key)',
  }));
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify({ source: keySource(config).label, keys: rows })}\n`);
    return 0;
  }
  const head = `keys: ${keySource(config).label}\n`;
  if (rows.length === 0) {
    process.stdout.write(`${head}no signing keys: access tokens are signed HS256 with the JWT secret\n`);
    return 0;
  }
  const width = Math.max(...rows.map((r) => r.kid.length));
  const lines = rows.map((r) => `${r.kid.padEnd(width)}  ${r.alg}  ${r.status}`);
  process.stdout.write(`${head}${lines.join('\n')}\n`);
  return 0;
}
