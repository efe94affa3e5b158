/** `trellis start`: serve the project until SIGTERM or SIGINT. */
import { loadConfig, stdoutIsTty } from '../config.js';
import { createLogger } from '../platform/logger.js';
import { redactUrl } from '../db/index.js';
import { StartAborted } from '../errors.js';
import { startTrellis, type RunningTrellis } from '../server.js';
import { parseFlags } from './args.js';

export const startHelp = `Usage: trellis start [--dir D] [--port P] [--host H]

Serves the project in D (default .): data in D/.trellis, migrations from D/supabase/migrations,
HTTP on P (default 54321). Uses DATABASE_URL when set, an embedded PostgreSQL otherwise.

SIGTERM drains: /ready answers 503 at once, requests are served for DRAIN_GRACE_SECONDS (default 5)
more, then the server stops. SIGINT (Ctrl-C) or a second signal stops without the grace.`;

export async function startCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('start', argv, {
    dir: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
  });
  if (flags.help) return help(startHelp);
  const config = loadConfig(flags);
  const log = createLogger({ level: config.logLevel, pretty: stdoutIsTty() });

  // Installed before the start, so a signal during it stops cleanly instead of orphaning the database.
  const startAbort = new AbortController();
  let onSignal = (signal: NodeJS.Signals) => startAbort.abort(signal);
  process.on('SIGTERM', (s) => onSignal(s));
  process.on('SIGINT', (s) => onSignal(s));

  let trellis: RunningTrellis;
  try {
    trellis = await startTrellis(config, log, startAbort.signal);
  } catch (err) {
    if (!(err instanceof StartAborted)) throw err;
    log.info(err.message);
    return 0;
  }

  process.stdout.write(
    [
      '',
      'Trellis is running.',
      '',
      `         API URL: ${trellis.apiUrl}`,
      // A DATABASE_URL's password would end up in container logs; the embedded one is local.
      `          DB URL: ${config.databaseUrl ? redactUrl(trellis.dbUrl) : trellis.dbUrl}`,
      `        anon key: ${trellis.keys.anonKey}`,
      `service_role key: ${trellis.keys.serviceRoleKey}`,
      '',
      '',
    ].join('\n'),
  );
  log.info({ apiUrl: trellis.apiUrl }, 'ready');

  return new Promise<number>((resolve) => {
    let stopping = false;
    let graceTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      clearTimeout(graceTimer);
      if (stopping) return;
      stopping = true;
      log.info('stopping: finishing in-flight requests');
      // The contract is an exit within 10 s of the stop; this only fires if something hangs.
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
    onSignal = (signal) => {
      // A second signal, or SIGINT (Ctrl-C: someone at a terminal, no load balancer to tell), skips the grace.
      if (graceTimer !== undefined || signal === 'SIGINT' || config.drainGraceMs === 0) return stop();
      trellis.drain();
      log.info(
        { signal, graceSeconds: config.drainGraceMs / 1000 },
        `draining: /ready answers 503; serving for ${config.drainGraceMs / 1000} s more (a second signal stops now)`,
      );
      graceTimer = setTimeout(stop, config.drainGraceMs);
    };
    // A signal that came after the start's last checkpoint (while /ready already answered) was
    // only recorded: act on it now rather than run on.
    if (startAbort.signal.aborted) onSignal(startAbort.signal.reason as NodeJS.Signals);
  });
}

function help(text: string): number {
  process.stdout.write(`${text}\n`);
  return 0;
}
