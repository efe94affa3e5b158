/**
 * The pool with read replicas in front: a read-only withClaims/queryAs that asks for a replica
 * (TxOptions.replica) runs on one that has replayed the caller's fence, everything else on the
 * primary. A read that fails on a replica because the replica is unavailable, because recovery
 * cancelled it (a replication conflict) or because the replica's pool had no free connection in
 * time, runs again on the primary: reads are read-only transactions, so running one twice changes
 * nothing.
 */
import type { TxOptions } from './claims.js';
import { classifyOutage, isPgError } from './outage.js';
import type { Db } from './pool.js';
import type { ReadReplicas, Replica } from './replicas.js';
import type { ReplicaStatus } from './replica-status.js';

/**
 * The replica, not the request, failed: refused, lost, or silent past the client-side deadline (a
 * frozen host). A statement cancelled by statement_timeout is the request's own doing: not retried.
 */
function replicaAway(err: unknown): boolean {
  const outage = classifyOutage(err);
  if (!outage) return false;
  return outage.kind === 'unavailable' || outage.stage === 'deadline' || outage.stage === 'connect';
}

/** Recovery cancelled the read (a row it needed was vacuumed on the primary): the primary has no such conflict. */
const recoveryConflict = (err: unknown) =>
  isPgError(err) && err.code === '40001' && /conflict with recovery/.test(err.message);

export function withReplicas(primary: Db, replicas: ReadReplicas): Db {
  const route = async <T>(
    options: TxOptions | undefined,
    onPrimary: () => Promise<T>,
    onReplica: (replica: Replica) => Promise<T>,
  ): Promise<T> => {
    if (!options?.readOnly || !options.replica) return onPrimary();
    const replica = await replicas.pick(options.replica.fence);
    if (!replica) return onPrimary();
    try {
      return await onReplica(replica);
    } catch (err) {
      if (replicaAway(err)) replicas.markDown(replica, err);
      else if (!recoveryConflict(err) && classifyOutage(err)?.stage !== 'pool_wait') throw err;
      return onPrimary();
    }
  };
  const db: Db = {
    ...primary,
    withClaims: (claims, fn, options) =>
      route(
        options,
        () => primary.withClaims(claims, fn, options),
        (r) => r.db.withClaims(claims, fn, options),
      ),
    queryAs: (claims, text, values, options) =>
      route(
        options,
        () => primary.queryAs(claims, text, values, options),
        (r) => r.db.queryAs(claims, text, values, options),
      ) as never,
    replicaStatus: (): readonly ReplicaStatus[] => replicas.status(),
    forRequests(url) {
      replicas.routeRequests(url);
      return withReplicas(primary.forRequests(url), replicas);
    },
    close: async () => {
      await replicas.close();
      await primary.close();
    },
  };
  return db;
}
