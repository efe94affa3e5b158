/** Realtime: live sockets, channels and message counts (polled), and a test broadcast. */
import { useState } from 'preact/hooks';
import { api, attempt, type Outcome } from '../api.js';
import { Button } from '../components/Button.js';
import { Checkbox, TextField, Toolbar } from '../components/Field.js';
import { StatCards } from '../components/Layout.js';
import { Await, useToast } from '../components/Notice.js';
import { useInterval } from '../hooks.js';
import type { Metrics } from '../types.js';

const POLL_MS = 2000;

export function RealtimePage() {
  const toast = useToast();
  const [metrics, setMetrics] = useState<Outcome<Metrics> | undefined>(undefined);
  const [channel, setChannel] = useState('room:lobby');
  const [event, setEvent] = useState('test');
  const [payload, setPayload] = useState('{"hello": "world"}');
  const [isPrivate, setPrivate] = useState(false);
  useInterval(() => void attempt(() => api<Metrics>('GET', '/metrics')).then(setMetrics), POLL_MS);

  const send = async () => {
    const outcome = await attempt(async () => {
      const parsed = JSON.parse(payload || '{}') as unknown;
      return api('POST', '/realtime/broadcast', { channel, event, payload: parsed, private: isPrivate });
    });
    if (!outcome.ok) return toast.failed(outcome.error);
    toast.done(`Sent "${event}" to ${channel}.`, 'broadcast-sent');
  };

  return (
    <>
      <h2>Realtime</h2>
      <p class="muted">Counts of this process; each worker of --workers N counts its own.</p>
      <Await value={metrics}>
        {({ realtime }) => (
          <StatCards
            id="realtime-cards"
            items={[
              ['open sockets', realtime.connections],
              ['joined channels', realtime.channels],
              ['messages in', realtime.messagesIn],
              ['messages out', realtime.messagesOut],
            ]}
          />
        )}
      </Await>
      <h3>Send a test broadcast</h3>
      <Toolbar>
        <TextField id="broadcast-channel" placeholder="channel (topic)" value={channel} onValue={setChannel} />
        <TextField id="broadcast-event" placeholder="event" value={event} onValue={setEvent} />
        <TextField id="broadcast-payload" placeholder='{"hello": "world"}' value={payload} onValue={setPayload} />
        <Checkbox checked={isPrivate} onChecked={setPrivate} label="private" />
        <Button id="broadcast" onClick={() => void send()}>
          Send
        </Button>
      </Toolbar>
    </>
  );
}
