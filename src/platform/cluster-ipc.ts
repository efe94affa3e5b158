/**
 * Questions a worker of `trellis start --workers N` asks the primary over node:cluster's IPC
 * channel, for state that must be one per box without Redis (the read fences). One request, one
 * answer, matched by id; no answer within `timeoutMs` rejects, so the caller can fall back.
 * Bodies travel as JSON (node:cluster's default serialization): no bigint, no Buffer.
 */
import cluster from 'node:cluster';

interface Question {
  readonly trellisAsk: string;
  readonly id: number;
  readonly body: unknown;
}
interface Answer {
  readonly trellisAnswer: string;
  readonly id: number;
  readonly body: unknown;
}

const isQuestion = (m: unknown, topic: string): m is Question =>
  typeof m === 'object' && m !== null && (m as { trellisAsk?: unknown }).trellisAsk === topic;
const isAnswer = (m: unknown, topic: string): m is Answer =>
  typeof m === 'object' && m !== null && (m as { trellisAnswer?: unknown }).trellisAnswer === topic;

/** In the primary: answers every worker's `topic` questions with `answer(body)`. */
export function answerWorkers(topic: string, answer: (body: unknown) => unknown): void {
  cluster.on('message', (worker, message: unknown) => {
    if (!isQuestion(message, topic)) return;
    const { id } = message;
    // A failed answer is no answer: the worker's wait times out and it falls back.
    void Promise.resolve()
      .then(() => answer(message.body))
      .then((body: unknown) => {
        if (worker.isConnected()) worker.send({ trellisAnswer: topic, id, body } satisfies Answer);
      })
      .catch(() => undefined);
  });
}

/** In a worker: a function that asks the primary `topic` questions. */
export function askPrimary(topic: string, timeoutMs: number): (body: unknown) => Promise<unknown> {
  const waiting = new Map<number, { resolve(body: unknown): void; timer: NodeJS.Timeout }>();
  let next = 0;
  process.on('message', (message: unknown) => {
    if (!isAnswer(message, topic)) return;
    const asker = waiting.get(message.id);
    if (!asker) return;
    waiting.delete(message.id);
    clearTimeout(asker.timer);
    asker.resolve(message.body);
  });
  return (body) =>
    new Promise((resolve, reject) => {
      const send = process.send?.bind(process);
      if (!send) return reject(new Error('not a worker: there is no primary to ask'));
      const id = ++next;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`the primary did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      waiting.set(id, { resolve, timer });
      send({ trellisAsk: topic, id, body } satisfies Question);
    });
}
