/** The in-process bus of a single instance: the embedded default, when REDIS_URL is unset. */
import type { Logger } from '../logger.js';
import { addListener, deliver, type Bus, type BusListener } from './bus.js';

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
    subscribe: (topic, onMessage) => addListener(topics, topic, onMessage),
    isHealthy: () => true,
    close: async () => topics.clear(),
  };
}
