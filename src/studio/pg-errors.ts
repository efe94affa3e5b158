/**
 * PostgreSQL refusing what a Studio user asked (a syntax error, a constraint, a privilege, a
 * cancelled statement) is that user's 400, with the SQLSTATE as its code. The database being away
 * (connection 08, resources 53, shutdown 57P, system 58, internal XX) is not: it goes on to the
 * one error renderer, which answers 503/504 for an outage.
 */
import { ApiError } from '../errors.js';

const SERVER_SIDE = /^(08|53|57P|58|XX)/;

export function asClientError(err: unknown): unknown {
  const e = err as { code?: unknown; message?: unknown; detail?: unknown; hint?: unknown; position?: unknown };
  if (typeof e.code !== 'string' || !/^[0-9A-Z]{5}$/.test(e.code) || SERVER_SIDE.test(e.code)) return err;
  return new ApiError(400, e.code, typeof e.message === 'string' ? e.message : 'the database refused the request', {
    details: typeof e.detail === 'string' ? e.detail : null,
    hint: typeof e.hint === 'string' ? e.hint : null,
    fields: typeof e.position === 'string' ? { position: Number(e.position) } : {},
  });
}

/** For `.catch(refused)`: rethrows the error as asClientError maps it. */
export function refused(err: unknown): never {
  throw asClientError(err);
}
