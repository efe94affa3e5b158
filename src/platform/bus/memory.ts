/** The in-process bus of a single instance: the embedded default, when REDIS_URL is unset. */
import type { Bus, BusListener } from './index.js';

export function createMemoryBus(): Bus {
  const topics = new Map<string, Set<BusListener>>();
  return {
    async publish(topic, message) {
      const listeners = topics.get(topic);
      if (!listeners) return;
      // A snapshot: a listener that subscribes or unsubscribes while we deliver does not change who gets this one.
      for (const listener of [...listeners]) deliver(listener, message);
    },
    subscribe(topic, onMessage) {
      let listeners = topics.get(topic);
      if (!listeners) topics.set(topic, (listeners = new Set()));
      // A wrapper per call, so subscribing the same function twice gives two independent subscriptions.
      const listener: BusListener = (m) => onMessage(m);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && topics.get(topic) === listeners) topics.delete(topic);
      };
    },
    isHealthy: () => true,
    close: async () => topics.clear(),
  };
}

/** One subscriber's exception must not keep the message from the others, nor reach the publisher. */
export function deliver(listener: BusListener, message: Uint8Array | string): void {
  try {
    listener(message);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}
