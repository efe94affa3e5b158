/** `trellis studio passwd`: a new Studio dashboard password (and the end of every Studio session). */
import crypto from 'node:crypto';
import { loadConfig } from '../config.js';
import { FatalError } from '../errors.js';
import { setStudioPassword, studioFile } from '../project/studio-password.js';
import { parseFlags } from './args.js';

export const studioHelp = `Usage: trellis studio passwd [--dir D]

Sets the Studio dashboard's password (docs/studio.md), kept hashed in D/.trellis/studio.json.
With a password on standard input (\`echo "$PW" | trellis studio passwd\`) that one is used;
otherwise a new random one is made and printed. Every signed-in dashboard is signed out; a
running Trellis takes the new password at the next sign-in, without a restart.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

export async function studioCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    process.stdout.write(`${studioHelp}\n`);
    return 0;
  }
  if (sub !== 'passwd') throw new FatalError(`unknown studio command "${sub}" (commands: passwd)`);
  const flags = parseFlags('studio passwd', rest, { dir: { type: 'string' } });
  if (flags.help) {
    process.stdout.write(`${studioHelp}\n`);
    return 0;
  }
  const config = loadConfig(flags);
  const given = process.stdin.isTTY ? '' : await readStdin();
  const password = given !== '' ? given : crypto.randomBytes(18).toString('base64url');
  await setStudioPassword(config.dataDir, password);
  process.stdout.write(
    given !== ''
      ? `Studio password changed (${studioFile(config.dataDir)}).\n`
      : `New Studio password: ${password}\n(shown once; ${studioFile(config.dataDir)} keeps only its hash)\n`,
  );
  return 0;
}
