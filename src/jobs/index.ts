/**
 * Background work (DESIGN.md "jobs/"): queues (pgmq's names, Trellis's job runner), cron (pg_cron's
 * names), webhooks (pg_net's names), app email, web push; each kind has its folder and door,
 * re-exported here.
 */
export * from './cron/index.js';
export * from './mail/index.js';
export * from './push/index.js';
export * from './queue/index.js';
export * from './webhooks/index.js';
