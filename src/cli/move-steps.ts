/** What `trellis move` prints last: what to do to run on the moved database. */
import type { Config } from '../config.js';
import { redactUrl } from '../db/index.js';

interface StepsOptions {
  readonly follow: boolean;
  readonly finish: boolean;
  readonly s3?: { readonly bucket: string };
  /** Trellis was running on the folder during the move. */
  readonly running: boolean;
  /** The source was the embedded database (not DATABASE_URL). */
  readonly embedded: boolean;
}

export function nextStepsTo(config: Config, to: string, options: StepsOptions): string {
  const dir = config.dir;
  const secrets = `${config.dataDir}/secrets.json`;
  if (options.follow) {
    return [
      '',
      `The target now follows the source: every write to the project reaches ${redactUrl(to)} too.`,
      'To switch over:',
      `  1. stop Trellis on ${dir}`,
      `  2. trellis move --finish --to '${redactUrl(to)}' --dir ${dir}   (waits for the last writes, compares both sides)`,
      `  3. DATABASE_URL='${redactUrl(to)}' trellis start --dir ${dir}   (the real password in place of *****)`,
    ].join('\n');
  }
  const env = [`DATABASE_URL='${redactUrl(to)}'`];
  if (options.s3) env.push('STORAGE_BACKEND=s3', `STORAGE_S3_BUCKET=${options.s3.bucket}`);
  return [
    '',
    'Next:',
    ...(options.running ? [`  stop the Trellis running on ${dir}, then`] : []),
    `  ${env.join(' ')} trellis start --dir ${dir}`,
    '  (the real password in place of *****; put the settings in your environment or service file).',
    `The JWT secret stays in ${secrets}: keep that folder with the server (or set JWT_SECRET to its`,
    'jwtSecret), and the API keys and every token issued before the move keep working.',
    ...(options.s3
      ? []
      : options.embedded
        ? [
            `Storage objects stay in ${config.storage.localDir}: run the server on this machine with the same --dir, or move them with --storage-to.`,
          ]
        : []),
    ...(options.embedded
      ? [`The embedded database in ${config.dataDir}/pg is left as it was; remove it once the server runs well.`]
      : []),
  ].join('\n');
}

export function nextStepsFrom(config: Config): string {
  return [
    '',
    'Next:',
    `  trellis start --dir ${config.dir}   (without DATABASE_URL: the embedded database now holds the project)`,
    `The JWT secret in ${config.dataDir}/secrets.json (or JWT_SECRET) signs the tokens as before.`,
  ].join('\n');
}
