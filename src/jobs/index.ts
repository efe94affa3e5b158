/** Background work: queues (pgmq names, Trellis's job runner), app email, and later cron and webhooks. */
export * from './queue/index.js';
export * from './mail/index.js';
