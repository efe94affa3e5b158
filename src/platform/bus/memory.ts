/** The in-process bus of a single instance: the embedded default, when REDIS_URL is unset. */
import type { Logger } from '../logger.js';
import { deliver, type Bus, type BusListener } from './bus.js';

export function createMemoryBus(log?: Logger): Bus {
  const topics = new Map<string, Set<BusListener>>();
  return {
    shared: false,
    async publish(topic, message) {
      const listeners = topics.get(topic);
      if (!listeners) return;
      // A snapshot: a listener that subscribes or unsubscribes while we deliver does not change who gets this one.
      for (const listener of [...listeners]) deliver(listener, message, log);
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
