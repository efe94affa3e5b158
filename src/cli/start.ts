/** `trellis start`: serve the project until SIGTERM or SIGINT. */
import { loadConfig, stdoutIsTty } from '../config.js';
import { createLogger } from '../platform/logger.js';
import { StartAborted } from '../errors.js';
import { startTrellis, type RunningTrellis } from '../server.js';
import { parseFlags } from './args.js';
import { printBanner } from './banner.js';
import { runPrimary } from './cluster.js';
import { isWorker, workerRole } from './cluster-worker.js';

export const startHelp = `Usage: trellis start [--dir D] [--port P] [--host H] [--workers N|auto] [--dev]

Serves the project in D (default .): data in D/.trellis, migrations from D/supabase/migrations,
HTTP on P (default 54321). Uses DATABASE_URL when set, an embedded PostgreSQL otherwise.

SIGTERM drains: /ready answers 503 at once, requests are served for DRAIN_GRACE_SECONDS (default 5)
more, then the server stops. SIGINT (Ctrl-C) or a second signal stops without the grace.

--workers: N processes share the port and the database (auto: the cores, at most 8; default 1,
auto when NODE_ENV=production); realtime crosses them over PostgreSQL LISTEN/NOTIFY.

--dev: edge functions are rebuilt when their files change (FUNCTIONS_WATCH=true); without it a
function is built on its first call and kept until the server restarts.`;

export async function startCommand(argv: string[]): Promise<number> {
  const flags = parseFlags('start', argv, {
    dir: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    workers: { type: 'string' },
    dev: { type: 'boolean' },
  });
  if (flags.help) return help(startHelp);
  const config = loadConfig(flags);
  const log = createLogger({ level: config.logLevel, pretty: stdoutIsTty() });
  const worker = isWorker() ? workerRole() : undefined;
  if (!worker && config.workers > 1) return runPrimary(config, log);

  // Installed before the start, so a signal during it stops cleanly instead of orphaning the database.
  const startAbort = new AbortController();
  let onSignal = (signal: NodeJS.Signals) => startAbort.abort(signal);
  process.on('SIGTERM', (s) => onSignal(s));
  process.on('SIGINT', (s) => onSignal(s));

  let trellis: RunningTrellis;
  try {
    trellis = await startTrellis(config, log, startAbort.signal, worker);
  } catch (err) {
    if (!(err instanceof StartAborted)) throw err;
    log.info(err.message);
    return 0;
  }

  // A worker's primary prints the banner once, when every worker serves.
  if (worker) worker.ready();
  else printBanner(config, trellis.apiUrl, trellis.dbUrl, trellis.keys, 1, trellis.studioPassword);
  log.info({ apiUrl: trellis.apiUrl, ...(worker && { worker: process.pid }) }, 'ready');

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
