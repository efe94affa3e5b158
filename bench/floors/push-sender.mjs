// The push floor's sender (bench/push.ts), in a process of its own as Trellis's sender is. It
// reads one JSON job per line from stdin ({ subscriptions, body, authorization, ca, inFlight,
// topic }), sends every push with web-push's sendNotification over one kept-alive agent (warm
// after the first job, as Trellis's is after its warm-up message), and answers each job with a
// line on stdout.
import https from 'node:https';
import readline from 'node:readline';
import tls from 'node:tls';
import webpush from 'web-push';

let agent;
for await (const line of readline.createInterface({ input: process.stdin })) {
  const job = JSON.parse(line);
  agent ??= new https.Agent({ keepAlive: true, maxSockets: 64, ca: [...tls.rootCertificates, job.ca] });
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
  process.stdout.write('done\n');
}
agent?.destroy();
