/**
 * pg_cron's schedule syntax, parsed (pure): five fields as Paul Vixie's cron reads them (numbers,
 * `*`, ranges, lists, `/step` after `*` or a range, month and weekday names, weekday 7 = Sunday),
 * `$` for the last day of the month, `@hourly` and its kin, and `N seconds` (1 to 59). A cron
 * schedule is translated into a croner pattern (with a seconds field of 0); an interval is kept as
 * a number, its ticks aligned to the epoch so that every instance computes the same ones. The
 * migration's `trellis.cron_schedule_problem` (src/sql/0120_cron.sql) checks the same grammar in
 * SQL, so `cron.schedule` refuses what this refuses; test/jobs/cron-schedule.test.ts runs one
 * table against both.
 */
import { Cron } from 'croner';

export type Schedule =
  { readonly kind: 'interval'; readonly seconds: number } | { readonly kind: 'cron'; readonly pattern: string };

export type ParsedSchedule =
  { readonly ok: true; readonly schedule: Schedule } | { readonly ok: false; readonly problem: string };

interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  readonly lastDay?: boolean;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31, lastDay: true },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  { name: 'day of week', min: 0, max: 7, names: WEEKDAYS },
];

const MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const INTERVAL = /^(\d{1,9}) seconds?$/;
const ITEM = /^(?:(\*)|([a-z0-9]+)(?:-([a-z0-9]+))?)(?:\/(\d{1,9}))?$/;

const fail = (problem: string): ParsedSchedule => ({ ok: false, problem });

export function parseSchedule(text: string): ParsedSchedule {
  // ASCII white space only, as the SQL check reads it (JavaScript's \s and trim() take Unicode's too).
  const source = text
    .toLowerCase()
    .replace(/[ \t\n\r\f\v]+/g, ' ')
    .replace(/^ | $/g, '');
  if (source === '') return fail('a schedule is required');
  const interval = INTERVAL.exec(source);
  if (interval) {
    const seconds = Number(interval[1]);
    if (seconds < 1 || seconds > 59) return fail(`an interval is 1 to 59 seconds, not ${seconds}`);
    return { ok: true, schedule: { kind: 'interval', seconds } };
  }
  if (source.startsWith('@')) {
    const expanded = MACROS[source];
    if (!expanded) return fail(`${source} is not one of ${Object.keys(MACROS).join(', ')}`);
    return parseFields(expanded);
  }
  return parseFields(source);
}

function parseFields(source: string): ParsedSchedule {
  const fields = source.split(' ');
  if (fields.length !== FIELDS.length)
    return fail(
      'a schedule is 5 fields (minute hour day-of-month month day-of-week), "N seconds" or one of @hourly, @daily, @weekly, @monthly, @yearly',
    );
  const out: string[] = [];
  for (const [i, field] of fields.entries()) {
    const spec = FIELDS[i]!;
    const items: string[] = [];
    for (const item of field.split(',')) {
      const translated = parseItem(item, spec);
      if (!translated.ok) return fail(translated.problem);
      items.push(translated.value);
    }
    out.push(items.join(','));
  }
  return { ok: true, schedule: { kind: 'cron', pattern: `0 ${out.join(' ')}` } };
}

type Item = { readonly ok: true; readonly value: string } | { readonly ok: false; readonly problem: string };

function parseItem(item: string, spec: FieldSpec): Item {
  if (item === '$' && spec.lastDay) return { ok: true, value: 'L' };
  const match = ITEM.exec(item);
  if (!match) return { ok: false, problem: `"${item}" is not a valid ${spec.name}` };
  const [, star, first, last, step] = match;
  let value: string;
  if (star) value = '*';
  else {
    const low = parseValue(first!, spec);
    if (typeof low === 'string') return { ok: false, problem: low };
    if (last === undefined) {
      // Vixie cron reads a step only after `*` or a range: "5/10" is refused there, so here too.
      if (step !== undefined) return { ok: false, problem: `"${item}": a step follows * or a range, as in */${step}` };
      value = String(low);
    } else {
      const high = parseValue(last, spec);
      if (typeof high === 'string') return { ok: false, problem: high };
      if (low > high) return { ok: false, problem: `"${item}": a ${spec.name} range runs from low to high` };
      value = `${low}-${high}`;
    }
  }
  if (step === undefined) return { ok: true, value };
  const by = Number(step);
  if (by < 1 || by > spec.max) return { ok: false, problem: `"${item}": a ${spec.name} step is 1 to ${spec.max}` };
  return { ok: true, value: `${value}/${by}` };
}

function parseValue(text: string, spec: FieldSpec): number | string {
  const named = spec.names?.indexOf(text) ?? -1;
  if (named >= 0) return named + (spec.names === MONTHS ? 1 : 0);
  if (!/^\d{1,9}$/.test(text)) return `"${text}" is not a valid ${spec.name}`;
  const n = Number(text);
  if (n < spec.min || n > spec.max) return `${spec.name} ${n} is not between ${spec.min} and ${spec.max}`;
  return n;
}

/** A parsed schedule ready to ask for ticks; croner's object is built once per schedule. */
export interface Ticker {
  /** The latest tick (epoch seconds) in (afterS, uptoS], if any. */
  latest(afterS: number, uptoS: number): number | undefined;
}

export function tickerOf(schedule: Schedule): Ticker {
  if (schedule.kind === 'interval') {
    const every = schedule.seconds;
    return {
      latest: (afterS, uptoS) => {
        const tick = Math.floor(uptoS / every) * every;
        return tick > afterS ? tick : undefined;
      },
    };
  }
  // pg_cron reads schedules in GMT (its cron.timezone default); croner's OR of day-of-month and
  // day-of-week is Vixie cron's.
  const cron = new Cron(schedule.pattern, { paused: true, timezone: 'Etc/UTC', domAndDow: false });
  return {
    latest: (afterS, uptoS) => {
      let found: number | undefined;
      let next = cron.nextRun(new Date(afterS * 1000));
      while (next && next.getTime() <= uptoS * 1000) {
        found = Math.floor(next.getTime() / 1000);
        next = cron.nextRun(next);
      }
      return found;
    },
  };
}
