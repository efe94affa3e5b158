/**
 * The change hub until the postgres_changes feed is in: joins that ask for postgres_changes are
 * refused with a message that says so; broadcast and presence work.
 */
import type { ChangeHub } from './changes/contract.js';

export const POSTGRES_CHANGES_UNAVAILABLE = 'postgres_changes is not available on this server yet';

export function unavailableChangeHub(): ChangeHub {
  return {
    subscribe: async () => ({ ok: false, message: POSTGRES_CHANGES_UNAVAILABLE }),
    problem: () => POSTGRES_CHANGES_UNAVAILABLE,
    close: async () => undefined,
  };
}
