/** What every /rest/v1 handler receives: the services, the schema cache and the response cache. */
import type { Services } from '../services.js';
import type { SchemaCacheHolder } from './cache.js';
import type { ResponseCache } from './response-cache/index.js';

export interface RestContext {
  readonly services: Services;
  readonly cache: SchemaCacheHolder;
  /** GET/HEAD answers of the relations opted in (`@cache`), forgotten on WAL changes. */
  readonly responses: ResponseCache;
}
