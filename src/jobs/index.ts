/** Background work: queues (pgmq names, Trellis's job runner), and later cron and webhooks. */
export * from './queue/index.js';
