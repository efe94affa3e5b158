/**
 * `trellis start --workers N`, a worker's side of the conversation with the primary (cluster.ts):
 * it asks for the database once it listens, and says when it serves. Messages go over the IPC
 * channel node:cluster opens; a worker whose primary is gone exits (node:cluster does that).
 */
import cluster from 'node:cluster';
import { StartAborted } from '../errors.js';
import { askPrimary } from '../platform/cluster-ipc.js';

/** The primary's answers on IPC topics of platform/cluster-ipc.ts. */
export const BACKUP_STATUS_TOPIC = 'backup-status';
export const BACKUP_METRICS_TOPIC = 'backup-metrics';

export type ClusterMessage =
  | { readonly trellis: 'database?' }
  | { readonly trellis: 'database'; readonly url: string }
  | { readonly trellis: 'ready' };

export function isClusterMessage(message: unknown): message is ClusterMessage {
  return (
    typeof message === 'object' && message !== null && typeof (message as { trellis?: unknown }).trellis === 'string'
  );
}

/** The role start.ts hands to startTrellis (server.ts's WorkerRole), and the ready signal. */
export interface ClusterWorker {
  databaseUrl(abort?: AbortSignal): Promise<string>;
  backupStatus(): Promise<Readonly<Record<string, unknown>>>;
  backupMetrics(): Promise<string>;
  ready(): void;
}

export function workerRole(): ClusterWorker {
  const askBackup = askPrimary(BACKUP_STATUS_TOPIC, 1000);
  const askMetrics = askPrimary(BACKUP_METRICS_TOPIC, 1000);
  return {
    backupMetrics: () =>
      askMetrics(null).then(
        (text) => (typeof text === 'string' ? text : ''),
        () => '',
      ),
    backupStatus: () =>
      askBackup(null).then(
        (status) => (typeof status === 'object' && status !== null ? (status as Record<string, unknown>) : {}),
        () => ({}),
      ),
    databaseUrl: (abort) =>
      new Promise<string>((resolve, reject) => {
        const onMessage = (message: unknown) => {
          if (!isClusterMessage(message) || message.trellis !== 'database') return;
          done();
          resolve(message.url);
        };
        const onAbort = () => {
          done();
          reject(new StartAborted(String(abort?.reason)));
        };
        const done = () => {
          process.off('message', onMessage);
          abort?.removeEventListener('abort', onAbort);
        };
        if (abort?.aborted) return onAbort();
        process.on('message', onMessage);
        abort?.addEventListener('abort', onAbort);
        process.send?.({ trellis: 'database?' } satisfies ClusterMessage);
      }),
    ready() {
      process.send?.({ trellis: 'ready' } satisfies ClusterMessage);
    },
  };
}

export const isWorker = (): boolean => cluster.isWorker;
