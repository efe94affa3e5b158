/** Flag parsing shared by the commands: strict, so an unknown flag is an error, not a silent no-op. */
import { parseArgs } from 'node:util';
import { FatalError } from '../errors.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; short?: string }>;

export function parseFlags(
  command: string,
  argv: string[],
  options: OptionSpec,
): Record<string, string | boolean | undefined> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    return values;
  } catch (err) {
    // node:util's messages run over several lines; the CLI's contract is one.
    const [first = 'bad option'] = (err as Error).message
      .replace(/\. To specify a positional argument.*$/s, '')
      .split('\n');
    const message =
      first.replace(/\.$/, '') +
      (first.includes('ambiguous') ? " (write a value that starts with '-' as --option=-value)" : '');
    throw new FatalError(`${message} (see \`trellis ${command} --help\`)`);
  }
}
