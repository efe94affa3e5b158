/** How a read replica is doing, as /ready reports it (src/db/replicas.ts probes it). */

/** `starting`: not probed yet; neither it nor a `lagging` or `down` one serves reads. */
export type ReplicaState = 'starting' | 'healthy' | 'lagging' | 'down';

export interface ReplicaStatus {
  /** The URL without its password. */
  readonly url: string;
  readonly state: ReplicaState;
  /** How far behind the primary its replay is, as of the last probe. */
  readonly lagMs: number | undefined;
  readonly replayLsn: string | undefined;
  /** Why it is down (the last error) or lagging. */
  readonly reason: string | undefined;
}
