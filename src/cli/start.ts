/** `trellis start`: serve the project until SIGTERM or SIGINT. */
import { loadConfig, stdoutIsTty } from '../config.js';
import { createLogger } from '../platform/logger.js';
import { startTrellis } from '../server.js';
import { parseFlags } from './args.js';

export const startHelp = `Usage: trellis start [--dir D] [--port P] [--host H]

Serves the project in D (default .): data in D/.trellis, migrations from D/supabase/migrations,
HTTP on P (default 54321). Uses DATABASE_URL when set, an embedded PostgreSQL otherwise.`;

export async function startCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('start', argv, { dir: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' } });
  if (flags.help) return help(startHelp);
  const config = loadConfig(flags);
  const log = createLogger({ level: config.logLevel, pretty: stdoutIsTty() });
  const trellis = await startTrellis(config, log);

  process.stdout.write(
    [
      '',
      'Trellis is running.',
      '',
      `         API URL: ${trellis.apiUrl}`,
      `          DB URL: ${trellis.dbUrl}`,
      `        anon key: ${trellis.keys.anonKey}`,
      `service_role key: ${trellis.keys.serviceRoleKey}`,
      '',
      '',
    ].join('\n'),
  );
  log.info({ apiUrl: trellis.apiUrl }, 'ready');

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'stopping: finishing in-flight requests');
      // The contract is an exit within 10 s; this only fires if something hangs.
      const hard = setTimeout(() => {
        log.error('shutdown took longer than 10 s; exiting anyway');
        resolve(1);
      }, config.shutdownTimeoutMs);
      hard.unref();
      trellis.stop().then(
        () => {
          log.info('stopped');
          clearTimeout(hard);
          resolve(0);
        },
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  });
}

function help(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}
