/**
 * Database webhooks (docs/webhooks.md): pg_net's net.http_get/post/delete and Supabase's
 * supabase_functions.http_request trigger (src/sql/0130–0132), sent by the net sender.
 */
export { startNetSender, type NetSender, type NetSenderOptions } from './sender.js';
export { startWebhooks } from './start.js';
export type { RetryPolicy } from './retry.js';
