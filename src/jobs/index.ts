/** Background jobs (DESIGN.md "jobs/"): each kind has its folder and door; this re-exports them. */
export * from './cron/index.js';
export * from './webhooks/index.js';
