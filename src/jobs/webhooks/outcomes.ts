/**
 * Final outcomes written in batches: while one statement is on its way, the outcomes that arrive
 * wait and go together in the next (at most 500 a statement). Under load a sender writes one
 * statement per batch instead of one per request; alone, a request's outcome goes at once.
 */
import type { Tx } from '../../db/index.js';
import { finishRequests, type FinalOutcome } from './queue.js';
import type { SendOutcome } from './send.js';

const MAX_BATCH = 500;

interface Waiting extends FinalOutcome {
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

export function outcomeWriter(db: Tx): (id: string, outcome: SendOutcome) => Promise<void> {
  const waiting: Waiting[] = [];
  let writing = false;
  const flush = () => {
    if (writing || waiting.length === 0) return;
    writing = true;
    const batch = waiting.splice(0, MAX_BATCH);
    finishRequests(db, batch)
      .then(
        () => batch.forEach((w) => w.resolve()),
        (err: unknown) => batch.forEach((w) => w.reject(err)),
      )
      .finally(() => {
        writing = false;
        flush();
      });
  };
  return (id, outcome) =>
    new Promise<void>((resolve, reject) => {
      waiting.push({ id, outcome, resolve, reject });
      flush();
    });
}
