/** Holds the schema cache: loaded on first use, reloaded on `NOTIFY pgrst, 'reload schema'`. */
import type { Db } from '../db/index.js';
import { forgetPreparedStatements } from '../db/index.js';
import type { Logger } from '../platform/logger.js';
import { loadSchemaCache, type SchemaCache } from './schema.js';

export interface SchemaCacheHolder {
  get(): Promise<SchemaCache>;
  reload(): void;
}

export function schemaCacheHolder(db: Db, schemas: readonly string[], log: Logger): SchemaCacheHolder {
  let current: Promise<SchemaCache> | undefined;
  const holder: SchemaCacheHolder = {
    get() {
      current ??= loadSchemaCache(db, schemas).catch((err: unknown) => {
        current = undefined; // try again on the next request
        throw err;
      });
      return current;
    },
    reload() {
      current = undefined;
      forgetPreparedStatements();
    },
  };
  // PostgREST's channel and payloads: '' or 'reload schema' reloads; 'reload config' has nothing to reload.
  db.listen('pgrst', (payload) => {
    if (payload === 'reload schema') log.info('schema cache reload requested');
    if (payload === '' || payload === 'reload schema') holder.reload();
  });
  return holder;
}
