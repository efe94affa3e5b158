/**
 * The Bus seam: pub/sub between the parts of one instance and, shared (PostgreSQL NOTIFY between
 * the workers of one box, Redis between boxes), between instances.
 * Delivery is at most once and only to subscribers present when a message is published: the bus
 * carries realtime traffic (broadcasts, presence diffs, change events), never state that must survive.
 */
import type { Logger } from '../logger.js';

export type BusListener = (message: Uint8Array | string) => void;

export interface Bus {
  /** Whether messages reach other processes (Redis, PostgreSQL), not only this one (memory). */
  readonly shared: boolean;
  /** Sends `message` to every subscriber of `topic` on every instance, this one included. */
  publish(topic: string, message: Uint8Array | string): Promise<void>;
  /** Calls `onMessage` for each message published to `topic` from now on; returns the unsubscribe. */
  subscribe(topic: string, onMessage: (message: Uint8Array | string) => void): () => void;
  /** False while the shared transport (Redis, PostgreSQL) is unreachable; local delivery continues meanwhile. */
  isHealthy(): boolean;
  close(): Promise<void>;
}

/**
 * One subscriber's exception must not keep the message from the others, reach the publisher, or
 * (from a Redis event handler) crash the process: it is a bug, logged. Part of the seam's contract,
 * so every implementation delivers through it.
 */
export function deliver(listener: BusListener, message: Uint8Array | string, log: Logger | undefined): void {
  try {
    listener(message);
  } catch (err) {
    log?.error({ err }, 'a bus subscriber failed');
  }
}

/**
 * Adds a subscriber of `topic` to `topics`; returns the unsubscribe, which forgets the topic with
 * its last subscriber. A wrapper per call, so subscribing the same function twice gives two
 * independent subscriptions.
 */
export function addListener(
  topics: Map<string, Set<BusListener>>,
  topic: string,
  onMessage: (message: Uint8Array | string) => void,
): () => void {
  let listeners = topics.get(topic);
  if (!listeners) topics.set(topic, (listeners = new Set()));
  const listener: BusListener = (m) => onMessage(m);
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && topics.get(topic) === listeners) topics.delete(topic);
  };
}
