/**
 * Statement naming for the request pool: a shape seen twice gets a name, so each connection parses
 * it once and PostgreSQL can reuse its plan.
 */
import crypto from 'node:crypto';
import type pg from 'pg';

/**
 * Requests repeat a small set of statement shapes ("latest 50 messages of room $1"). Naming them
 * lets each connection parse a shape once and PostgreSQL reuse its plan. A shape is named on its
 * second use, so one-off shapes never take a name, and at most MAX_PREPARED are named per
 * generation: the bound on what each connection's prepared statements hold.
 */
const seenShapes = new Map<string, string | null>();
// Room for an app's data-API shapes beside auth's own few dozen (sign-in, refresh, MFA, admin).
const MAX_PREPARED = 200;
let generation = 0;
let named = 0;

/**
 * After a schema change: name statements afresh. (PostgreSQL replans prepared statements when a
 * table they read changes, but not one whose row type a function returns: a cached plan would keep
 * the old row type.) Connections drop the old ones as they retire.
 */
export function forgetPreparedStatements(): void {
  generation++;
  named = 0;
  seenShapes.clear();
}

/** The extended protocol even without values (pg's `queryMode`, not in @types/pg yet): one statement, never two. */
export function extended(text: string, values: unknown[] | undefined, prepare: boolean): pg.QueryConfig {
  let name: string | undefined;
  if (prepare) {
    const seen = seenShapes.get(text);
    if (typeof seen === 'string') {
      name = seen;
    } else if (seen === null && named < MAX_PREPARED) {
      name = `trellis_${generation}_${crypto.createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
      seenShapes.set(text, name);
      named++;
    } else if (seen === undefined && seenShapes.size < MAX_PREPARED * 4) {
      seenShapes.set(text, null); // once seen; named if it comes again
    }
  }
  return { text, values, queryMode: 'extended', ...(name !== undefined && { name }) } as pg.QueryConfig;
}
