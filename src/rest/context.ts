/** What every /rest/v1 handler receives: the services and the schema cache. */
import type { Services } from '../services.js';
import type { SchemaCacheHolder } from './cache.js';

export interface RestContext {
  readonly services: Services;
  readonly cache: SchemaCacheHolder;
}
