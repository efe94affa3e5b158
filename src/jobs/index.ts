/** Background work: queues (pgmq names, Trellis's job runner), web push, and later cron and webhooks. */
export * from './queue/index.js';
export * from './push/index.js';
