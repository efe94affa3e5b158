/** The progress line long commands print: what it says, and how often. */
import { Writable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { line, progress } from '../../src/platform/progress.js';

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk: Buffer, _e, done) {
        chunks.push(chunk.toString());
        done();
      },
    }),
    { isTTY },
  );
  return { stream, chunks };
}

describe('progress', () => {
  test('the running line: bar, percentage, count of total, rate and time left', () => {
    expect(line('messages', 250_000, 1000, { total: 1_000_000, unit: 'rows' })).toBe(
      'messages [######------------------] 25% 250,000 rows of 1,000,000 rows 250,000 rows/s 3.0 s left',
    );
    expect(line('wal', 3 * 1024 * 1024, 2000, { unit: 'bytes' })).toBe('wal 3.0 MiB 1.5 MiB/s');
  });

  test('off a terminal it prints a line every two seconds and a final line', () => {
    let t = 0;
    const { stream, chunks } = sink(false);
    const bar = progress('rooms', { total: 100, unit: 'rows', stream, now: () => t });
    for (let i = 0; i < 10; i++) {
      t += 500;
      bar.tick(10);
    }
    bar.done('rls on');
    expect(chunks).toHaveLength(3);
    expect(chunks[0]).toMatch(/^rooms \[#{10}-{14}\] 40% 40 rows of 100 rows 20 rows\/s 3\.0 s left\n$/);
    expect(chunks[2]).toBe('rooms 100 rows in 5.0 s (20 rows/s): rls on\n');
    bar.tick(5);
    bar.fail('late');
    expect(chunks).toHaveLength(3);
  });

  test('on a terminal it redraws one line and ends it with a newline', () => {
    let t = 0;
    const { stream, chunks } = sink(true);
    const bar = progress('copy', { unit: 'files', stream, now: () => t });
    t = 150;
    bar.tick(3);
    bar.fail('disk full');
    expect(chunks).toEqual(['\r\x1b[Kcopy 3 files 20 files/s', '\r\x1b[Kcopy failed after 3 files: disk full\n']);
  });
});
