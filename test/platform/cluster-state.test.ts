/**
 * The workers of `--workers N` without Redis share the primary's rate-limit counters and read
 * fences: a real node:cluster (test/helpers/cluster-state.ts) with two workers.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

test('two workers take from one budget, and a write noted by one fences the other’s read', async () => {
  const { stdout } = await promisify(execFile)('npx', ['tsx', 'test/helpers/cluster-state.ts'], { timeout: 80_000 });
  const result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    writerAllowed: number;
    readerAllowed: number;
    fence: string;
  };
  // 10 attempts against a budget of 6 for the box: 6 allowed in all (per worker it would be 10).
  expect(result.writerAllowed + result.readerAllowed).toBe(6);
  expect(result.fence).toBe(0x10_0000_0001n.toString(16));
});
