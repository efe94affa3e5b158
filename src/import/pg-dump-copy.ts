/**
 * One COPY block of the dump streamed into COPY FROM STDIN as it is read: the dump's lines are
 * already in COPY's text format, so they pass through unchanged in writes of about 64 KiB, with
 * backpressure (memory stays bounded whatever the table's size). src/db/copy.ts encodes values
 * into that format; here there is nothing to encode.
 */
import { finished } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';

const BATCH_BYTES = 64 * 1024;

export interface CopySink {
  /** One data line (without its newline); a promise only when a batch is written (no await per line). */
  push(line: string): Promise<void> | undefined;
  /** After `\.`: the rows the server took. */
  end(): Promise<number>;
  /** The dump ended or failed mid-block: the COPY is abandoned (the transaction rolls back). */
  abort(reason: Error): void;
}

export function copyInto(
  client: pg.ClientBase,
  sql: string,
  onRows: (n: number) => void,
): { sink: CopySink; failure: () => Error | undefined } {
  const stream = client.query(copyFrom(sql));
  let failure: Error | undefined;
  stream.on('error', (err: Error) => (failure ??= err));
  let batch = '';
  let inBatch = 0;
  // A function, not an inline test: the failure arrives from an event while a write is awaited.
  const check = (): void => {
    if (failure) throw failure;
  };
  const write = async () => {
    check();
    const chunk = batch;
    const rows = inBatch;
    batch = '';
    inBatch = 0;
    if (!stream.write(chunk)) await drained(stream);
    check();
    onRows(rows);
  };
  return {
    failure: () => failure,
    sink: {
      push(line) {
        batch += `${line}\n`;
        inBatch++;
        return batch.length >= BATCH_BYTES ? write() : undefined;
      },
      async end() {
        if (batch !== '') await write();
        stream.end();
        await finished(stream).catch((err: unknown) => {
          throw failure ?? err;
        });
        check();
        return stream.rowCount;
      },
      abort(reason) {
        stream.destroy(reason);
      },
    },
  };
}

/** Waits for 'drain', or rejects on 'error'; the other listener is removed either way. */
function drained(stream: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      stream.off('error', onError);
      resolve();
    };
    const onError = (err: Error) => {
      stream.off('drain', onDrain);
      reject(err);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
  });
}

/** "COPY users, line 3, column id: …" → 3: the row within the block, for the dump line. */
export function copyLineOf(err: unknown): number | undefined {
  const where = (err as { where?: string }).where ?? '';
  const m = /COPY [^,]+, line (\d+)/.exec(where);
  return m ? Number(m[1]) : undefined;
}
