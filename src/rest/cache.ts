/**
 * Holds the schema cache and the in-database settings read with it: loaded on first use, reloaded
 * on `NOTIFY pgrst, 'reload schema'` (and on 'reload config', which rereads the settings).
 */
import type { Db } from '../db/index.js';
import { forgetPreparedStatements } from '../db/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import { applyDbSettings, loadDbSettings, loadPostgisSchema, type RestSettings } from './db-config.js';
import { loadSchemaCache, type SchemaCache } from './schema.js';

export interface SchemaCacheHolder {
  get(): Promise<SchemaCache>;
  /** The environment's settings with the database's `pgrst.*` ones over them (see db-config.ts). */
  settings(): Promise<RestSettings>;
  reload(): void;
}

interface Loaded {
  readonly cache: SchemaCache;
  readonly settings: RestSettings;
}

export function schemaCacheHolder(
  db: Db,
  schemas: readonly string[],
  log: Logger,
  base: RestSettings,
): SchemaCacheHolder {
  let current: { readonly cache: Promise<SchemaCache>; readonly settings: Promise<RestSettings> } | undefined;
  const load = async (): Promise<Loaded> => {
    const [cache, raw, postgisSchema] = await Promise.all([
      loadSchemaCache(db, schemas),
      loadDbSettings(db).catch((err: unknown) => {
        log.warn({ err: errorMessage(err) }, 'cannot read the pgrst.* settings of role authenticator');
        return {};
      }),
      loadPostgisSchema(db),
    ]);
    const { settings, ignored } = applyDbSettings({ ...base, postgisSchema }, raw);
    if (ignored.length) log.warn({ ignored }, 'in-database pgrst.* settings that do not parse are ignored');
    return { cache, settings };
  };
  // Both promises made once per load: a request awaits them without allocating new ones.
  const loaded = () => {
    if (!current) {
      const both = load().catch((err: unknown) => {
        current = undefined; // try again on the next request
        throw err;
      });
      current = { cache: both.then((l) => l.cache), settings: both.then((l) => l.settings) };
      // A failed load is answered through whichever promise the request awaits; not also unhandled.
      current.settings.catch(() => undefined);
    }
    return current;
  };
  const holder: SchemaCacheHolder = {
    get: () => loaded().cache,
    settings: () => loaded().settings,
    reload() {
      current = undefined;
      forgetPreparedStatements();
    },
  };
  // PostgREST's channel and payloads: '' or 'reload schema' reloads the cache, 'reload config' the settings.
  db.listen('pgrst', (payload) => {
    if (payload === 'reload schema' || payload === 'reload config') log.info(`${payload} requested`);
    if (payload === '' || payload === 'reload schema' || payload === 'reload config') holder.reload();
  });
  return holder;
}
