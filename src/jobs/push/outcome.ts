/**
 * What a push service's answer means for a delivery (RFC 8030 §5-§8 and the services' documented
 * codes): 201 delivered; 404/410 the subscription is gone for good; 429, 5xx or no answer (a
 * timeout, a refused connection) is worth another try; any other 4xx would fail the same way again.
 */
export type PushOutcome = 'delivered' | 'expired' | 'retry' | 'rejected';

/** `status`: the push service's HTTP status, or undefined when it gave none. */
export function classifyPushResponse(status: number | undefined): PushOutcome {
  if (status === undefined) return 'retry';
  if (status >= 200 && status < 300) return 'delivered';
  if (status === 404 || status === 410) return 'expired';
  if (status === 408 || status === 429 || status >= 500) return 'retry';
  return 'rejected';
}
