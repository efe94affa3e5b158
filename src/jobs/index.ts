/** Background jobs: one door for its parts (queues, cron, webhooks), each re-exported from its own folder. */
export * from './webhooks/index.js';
