/**
 * Message-rate limits, as token buckets counted in this process: one per socket and one for the
 * whole instance (the "tenant": a Trellis project is one tenant). Pure apart from the clock, which
 * is passed in, so the arithmetic is tested without waiting.
 */

export class TokenBucket {
  #tokens: number;
  #updatedAt: number;

  constructor(
    /** Tokens added per second, and the most the bucket holds: one second's burst. */
    readonly ratePerSecond: number,
    now: number,
  ) {
    this.#tokens = ratePerSecond;
    this.#updatedAt = now;
  }

  /** Takes one token; false when none is left (the message is over the limit). */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#updatedAt = now;
    this.#tokens = Math.min(this.ratePerSecond, this.#tokens + elapsed * this.ratePerSecond);
  }
}

export type RateVerdict = 'ok' | 'refused' | 'disconnect';

/**
 * A socket's limit. Messages over it are refused one by one; a socket that goes on sending after
 * a whole second's worth of refusals is flooding, and is disconnected.
 */
export class ConnectionRate {
  readonly #bucket: TokenBucket;
  #refusedInARow = 0;

  constructor(
    readonly ratePerSecond: number,
    now: number,
  ) {
    this.#bucket = new TokenBucket(ratePerSecond, now);
  }

  check(now: number): RateVerdict {
    if (this.#bucket.take(now)) {
      this.#refusedInARow = 0;
      return 'ok';
    }
    this.#refusedInARow += 1;
    return this.#refusedInARow > this.ratePerSecond ? 'disconnect' : 'refused';
  }
}
