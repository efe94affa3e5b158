/**
 * Fences of `trellis start --workers N` without Redis: the primary keeps the box's one map of
 * callers' last writes (a memory store) and workers ask it over IPC, so a write answered by one
 * worker fences the caller's next read on any other. A primary that does not answer leaves the
 * worker with its own map meanwhile (a read through another worker may then reach a replica that
 * has not replayed the write, as during a Redis outage).
 */
import { formatLsn, parseLsn } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import { answerWorkers, askPrimary } from '../cluster-ipc.js';
import type { Logger } from '../logger.js';
import { createMemoryFenceStore } from './memory.js';
import type { FenceStore } from './store.js';

const TOPIC = 'fence';
const ANSWER_TIMEOUT_MS = 1000;

type Question =
  | { readonly op: 'note'; readonly caller: string; readonly lsn: string; readonly ttlMs: number }
  | { readonly op: 'get'; readonly caller: string };

/** In the primary, before the workers are forked. */
export function serveClusterFences(): void {
  const store = createMemoryFenceStore();
  answerWorkers(TOPIC, (body) => {
    const q = body as Question;
    if (q.op === 'get') {
      const lsn = store.getNow(q.caller);
      return lsn === undefined ? null : formatLsn(lsn);
    }
    const lsn = parseLsn(q.lsn);
    if (lsn !== undefined) store.noteNow(q.caller, lsn, q.ttlMs);
    return null;
  });
}

export function createClusterFenceStore(log: Logger): FenceStore {
  const ask = askPrimary(TOPIC, ANSWER_TIMEOUT_MS);
  const own = createMemoryFenceStore();
  let healthy = true;
  const failed = (err: unknown) => {
    if (healthy)
      log.warn({ err: errorMessage(err) }, 'the primary does not answer: read fences are per worker meanwhile');
    healthy = false;
  };
  const answered = () => {
    if (!healthy) log.info('the primary answers again: read fences are shared by the workers again');
    healthy = true;
  };
  return {
    async note(caller, lsn, ttlMs) {
      own.noteNow(caller, lsn, ttlMs);
      try {
        await ask({ op: 'note', caller, lsn: formatLsn(lsn), ttlMs } satisfies Question);
        answered();
      } catch (err) {
        failed(err);
      }
    },
    async get(caller) {
      try {
        const text = await ask({ op: 'get', caller } satisfies Question);
        answered();
        return typeof text === 'string' ? parseLsn(text) : undefined;
      } catch (err) {
        failed(err);
        return own.getNow(caller);
      }
    },
    close: () => Promise.resolve(),
  };
}
