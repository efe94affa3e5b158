/** A PostgreSQL dump of a Supabase project: another helper's work, merged by the lead. */
import { FatalError } from '../errors.js';

export function importPgDump(): never {
  throw new FatalError('PostgreSQL dumps: not in this build');
}
