/** Web push (docs/push.md): subscriptions in trellis.push_subscriptions, trellis.send_push, delivery as jobs. */
export { startPush, type PushModule } from './start.js';
export { classifyPushResponse, type PushOutcome } from './outcome.js';
export { PUSH_TASK, type PushJob } from './deliver.js';
