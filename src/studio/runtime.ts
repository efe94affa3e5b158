/** What Studio reads from the running server beyond the Services: the parts server.ts owns. */
import type { RealtimeLiveView } from '../realtime/index.js';

export interface StudioRuntime {
  /** The channels open on this instance (the realtime module's memory). */
  readonly realtime: () => RealtimeLiveView;
  /** The database as its superuser: what `trellis backup` connects with (pg_dump, or the embedded cluster's base backup). */
  readonly databaseUrl: string;
}
