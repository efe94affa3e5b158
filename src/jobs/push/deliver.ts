/**
 * One job per subscription (task `push-send`, queued by trellis.send_push): encrypt and send with
 * web-push, signed with the project's VAPID key. An expired subscription is deleted; a push service
 * that is down or busy fails the job, which the runner retries with backoff.
 */
import type https from 'node:https';
import webpush from 'web-push';
import type { Db } from '../../db/index.js';
import { errorMessage } from '../../errors.js';
import type { Logger } from '../../platform/logger.js';
import type { JobHandler } from '../queue/index.js';
import { classifyPushResponse, type PushOutcome } from './outcome.js';
import { SUBSCRIPTION_BY_ID, SUBSCRIPTION_DELETE } from './sql.js';
import { vapidAuthorizer, type VapidKeys } from './vapid.js';

export const PUSH_TASK = 'push-send';

/** A job's payload, as trellis.send_push writes it. */
export interface PushJob {
  readonly subscription: number | string;
  readonly body: string;
  readonly ttl: number;
  readonly urgency: 'very-low' | 'low' | 'normal' | 'high';
  readonly topic: string | null;
}

export interface PushDelivery {
  readonly db: Db;
  readonly log: Logger;
  readonly keys: VapidKeys;
  readonly agent: https.Agent;
  readonly timeoutMs: number;
  readonly counted: (outcome: PushOutcome) => void;
}

export function pushHandler(d: PushDelivery): JobHandler<PushJob> {
  const authorization = vapidAuthorizer(d.keys);
  return async (job, context) => {
    const sub = (
      await d.db.query<{ id: string; endpoint: string; p256dh: string; auth: string }>(SUBSCRIPTION_BY_ID, [
        String(job.subscription),
      ])
    ).rows[0];
    // Unsubscribed (or expired) since the push was queued: nothing to send.
    if (!sub) return;
    let status: number | undefined;
    let failure: unknown;
    try {
      status = (
        await webpush.sendNotification(
          { endpoint: sub.endpoint, keys: { p256dh: sub.p256dh, auth: sub.auth } },
          job.body,
          {
            // The VAPID token, signed once per push service (web-push would sign one per push).
            headers: { Authorization: authorization(sub.endpoint) },
            TTL: job.ttl,
            urgency: job.urgency,
            ...(job.topic ? { topic: job.topic } : {}),
            timeout: d.timeoutMs,
            agent: d.agent,
          },
        )
      ).statusCode;
    } catch (err) {
      failure = err;
      status = err instanceof webpush.WebPushError ? err.statusCode : undefined;
    }
    const outcome = classifyPushResponse(status);
    d.counted(outcome);
    const where = { subscription: sub.id, job: context.id, status };
    switch (outcome) {
      case 'delivered':
        return;
      case 'expired':
        await d.db.query(SUBSCRIPTION_DELETE, [sub.id, sub.endpoint]);
        d.log.info(where, 'push subscription expired (the push service answered 404/410): deleted');
        return;
      case 'rejected':
        // Sending again would be refused again (a bad key, a payload too large): logged, not retried.
        d.log.warn(where, `push refused by the push service: ${errorMessage(failure)}`);
        return;
      case 'retry':
        throw new Error(
          `push service ${status === undefined ? 'unreachable' : `answered ${status}`}: ${errorMessage(failure)}`,
        );
    }
  };
}
