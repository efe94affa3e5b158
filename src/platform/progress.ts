/**
 * A progress line for long CLI work (imports, backups, moves), on stderr so stdout stays a result.
 * On a terminal it redraws one line at most ten times a second; elsewhere (CI logs, tests, pipes)
 * it prints a line every two seconds, so a log shows the work moving without drowning in it.
 */

export interface Progress {
  /** Adds n units done (rows, bytes, files). */
  tick(n: number): void;
  /** Ends the bar with a final line: "<label> 1,000,000 rows in 4.2 s (238,095 rows/s)", then `note`. */
  done(note?: string): void;
  /** Ends the bar with a failure line. */
  fail(reason: string): void;
}

export interface ProgressOptions {
  /** Units expected in all; undefined when unknown (then a count and a rate, no percentage). */
  readonly total?: number;
  /** 'rows', 'bytes', 'files'…; bytes are shown as KiB/MiB/GiB. */
  readonly unit: string;
  readonly stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** For tests: the clock in milliseconds. */
  readonly now?: () => number;
}

const TTY_INTERVAL_MS = 100;
const LOG_INTERVAL_MS = 2000;
const BAR_WIDTH = 24;

export function progress(label: string, options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? (() => performance.now());
  const tty = stream.isTTY === true;
  const started = now();
  let count = 0;
  let lastDrawn = started;
  let ended = false;

  const draw = (final: string | undefined) => {
    if (tty) stream.write(`\r\x1b[K${final ?? line(label, count, now() - started, options)}${final ? '\n' : ''}`);
    else stream.write(`${final ?? line(label, count, now() - started, options)}\n`);
  };

  return {
    tick(n) {
      if (ended) return;
      count += n;
      const t = now();
      if (t - lastDrawn >= (tty ? TTY_INTERVAL_MS : LOG_INTERVAL_MS)) {
        lastDrawn = t;
        draw(undefined);
      }
    },
    done(note) {
      if (ended) return;
      ended = true;
      const elapsed = now() - started;
      const rate = elapsed > 0 ? ` (${amount(Math.round((count * 1000) / elapsed), options.unit)}/s)` : '';
      draw(`${label} ${amount(count, options.unit)} in ${seconds(elapsed)}${rate}${note ? `: ${note}` : ''}`);
    },
    fail(reason) {
      if (ended) return;
      ended = true;
      draw(`${label} failed after ${amount(count, options.unit)}: ${reason}`);
    },
  };
}

/** The line while work goes on: label, bar and percentage when the total is known, count, rate, time left. */
export function line(label: string, count: number, elapsedMs: number, options: ProgressOptions): string {
  const rate = elapsedMs > 0 ? (count * 1000) / elapsedMs : 0;
  const parts = [label];
  const total = options.total;
  if (total !== undefined && total > 0) {
    const share = Math.min(1, count / total);
    const filled = Math.round(share * BAR_WIDTH);
    parts.push(`[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`, `${Math.floor(share * 100)}%`);
    parts.push(`${amount(count, options.unit)} of ${amount(total, options.unit)}`);
  } else {
    parts.push(amount(count, options.unit));
  }
  if (rate > 0) parts.push(`${amount(Math.round(rate), options.unit)}/s`);
  if (total !== undefined && rate > 0 && count < total) parts.push(`${seconds(((total - count) / rate) * 1000)} left`);
  return parts.join(' ');
}

function amount(n: number, unit: string): string {
  if (unit !== 'bytes') return `${n.toLocaleString('en-US')} ${unit}`;
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${value.toFixed(1)} ${units[i]}`;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${Math.round(s - m * 60)} s`;
}
