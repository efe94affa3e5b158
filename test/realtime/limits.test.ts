import { describe, expect, test } from 'vitest';
import { ConnectionRate, TokenBucket } from '../../src/realtime/limits.js';

describe('rate limits', () => {
  test('a token bucket refills at its rate and holds at most one second', () => {
    const b = new TokenBucket(10, 0);
    for (let i = 0; i < 10; i++) expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.take(100)).toBe(true);
    expect(b.take(100)).toBe(false);
    expect(b.take(10_000)).toBe(true);
    let n = 1;
    while (b.take(10_000)) n++;
    expect(n).toBe(10);
  });

  test('a socket is refused over its rate and disconnected when it keeps flooding', () => {
    const r = new ConnectionRate(5, 0);
    const verdicts = Array.from({ length: 12 }, () => r.check(0));
    expect(verdicts.filter((v) => v === 'ok')).toHaveLength(5);
    expect(verdicts.slice(5, 10)).toEqual(Array(5).fill('refused'));
    expect(verdicts.at(-1)).toBe('disconnect');
    const calm = new ConnectionRate(5, 0);
    for (let t = 0; t < 10_000; t += 250) expect(calm.check(t)).toBe('ok');
  });
});
