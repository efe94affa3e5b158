/**
 * Flow control for bodies that cross between the server and a function's worker, in both
 * directions: the receiving side puts chunks in a bounded queue and reports how many bytes its
 * reader has taken in all; the sending side keeps at most a window beyond that in flight. Credit,
 * not a reset: a report that arrives late grants nothing the reader did not take.
 */

/** Bytes a sender may have sent beyond what the other side's reader has taken. */
export const WINDOW_BYTES = 1024 * 1024;
/** Bytes a receiver queues for a reader that is slower than the sender. */
const QUEUE_BYTES = 256 * 1024;

/** The sending side of one body. */
export class SendWindow {
  private sent = 0;
  private taken = 0;
  private waiting: (() => void) | undefined;

  /** Resolves once `bytes` more may be sent (at once while the window is open, or when `stop` says so). */
  async room(bytes: number, stop: () => boolean): Promise<void> {
    while (this.sent - this.taken > WINDOW_BYTES && !stop())
      await new Promise<void>((resolve) => (this.waiting = resolve));
    this.sent += bytes;
  }

  /** The other side's reader has taken `taken` bytes in all. */
  took(taken: number): void {
    this.taken = Math.max(this.taken, taken);
    this.wake();
  }

  /** Lets a waiting sender look at its `stop` again (the call ended). */
  wake(): void {
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.();
  }
}

/** The receiving side of one body: a stream to read, fed by `push`, that reports what was taken. */
export interface ReceivedBody {
  readonly stream: ReadableStream<Uint8Array>;
  push(chunk: Uint8Array): void;
  close(): void;
  error(reason: Error): void;
}

export function receivedBody(report: (taken: number) => void, cancel: () => void): ReceivedBody {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let pushed = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      start: (c) => void (controller = c),
      // The reader took from the queue: what is no longer queued was taken.
      pull: (c) => report(pushed - (QUEUE_BYTES - (c.desiredSize ?? 0))),
      // A reader that gave up takes everything still to come (dropped here): the sender never waits.
      cancel: () => {
        report(Number.POSITIVE_INFINITY);
        cancel();
      },
    },
    new ByteLengthQueuingStrategy({ highWaterMark: QUEUE_BYTES }),
  );
  // Once closed, errored or cancelled, a late chunk or end has nowhere to go and is dropped.
  const quietly = (act: () => void) => {
    try {
      act();
    } catch {
      // Closed already.
    }
  };
  return {
    stream,
    push: (chunk) => {
      pushed += chunk.byteLength;
      quietly(() => controller.enqueue(chunk));
    },
    close: () => quietly(() => controller.close()),
    error: (reason) => quietly(() => controller.error(reason)),
  };
}
