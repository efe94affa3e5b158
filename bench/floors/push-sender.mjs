// The push floor's sender (bench/push.ts), in a process of its own as Trellis's sender is: it reads
// one JSON job from stdin ({ subscriptions, body, authorization, ca, inFlight, topic }), sends every
// push with web-push's sendNotification over a kept-alive agent, and exits.
import https from 'node:https';
import tls from 'node:tls';
import webpush from 'web-push';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const job = JSON.parse(input);
const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: [...tls.rootCertificates, job.ca] });
let next = 0;
await Promise.all(
  Array.from({ length: job.inFlight }, async () => {
    while (next < job.subscriptions.length)
      await webpush.sendNotification(job.subscriptions[next++], job.body, {
        headers: { Authorization: job.authorization },
        TTL: 86400,
        urgency: 'high',
        topic: job.topic,
        agent,
      });
  }),
);
agent.destroy();
