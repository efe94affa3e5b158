/** Realtime: live sockets, channels and message counts, the open channels (polled), and a test broadcast. */
import { useState } from 'preact/hooks';
import { api, attempt, type Outcome } from '../api.js';
import { Button } from '../components/Button.js';
import { DataTable, type Column } from '../components/DataTable.js';
import { Checkbox, TextField, Toolbar } from '../components/Field.js';
import { Badge, StatCards } from '../components/Layout.js';
import { Await, useToast } from '../components/Notice.js';
import { useInterval } from '../hooks.js';
import type { LiveChannel, LiveChannels, Metrics } from '../types.js';

const POLL_MS = 2000;

export function RealtimePage() {
  const toast = useToast();
  const [metrics, setMetrics] = useState<Outcome<Metrics> | undefined>(undefined);
  const [channel, setChannel] = useState('room:lobby');
  const [event, setEvent] = useState('test');
  const [payload, setPayload] = useState('{"hello": "world"}');
  const [isPrivate, setPrivate] = useState(false);
  const [live, setLive] = useState<Outcome<LiveChannels> | undefined>(undefined);
  useInterval(() => {
    void attempt(() => api<Metrics>('GET', '/metrics')).then(setMetrics);
    void attempt(() => api<LiveChannels>('GET', '/realtime/channels')).then(setLive);
  }, POLL_MS);

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
      <h3>Open channels</h3>
      <Await value={live}>
        {({ scope, channels }) => (
          <>
            {scope === 'instance' && (
              <p class="muted">
                This instance only: other instances share its bus (REDIS_URL, --workers), and their sockets and
                subscriptions are not counted here. Presence is the cluster&apos;s.
              </p>
            )}
            <DataTable
              id="channels"
              columns={CHANNEL_COLUMNS}
              rows={channels}
              rowKey={(c) => `${c.private ? 'private' : 'public'}:${c.topic}`}
              pageSize={50}
              empty="No channel is open."
            />
          </>
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

const list = (items: string[]) =>
  items.length === 0 ? (
    <span class="muted">none</span>
  ) : (
    <ul class="cell-list">
      {items.map((i) => (
        <li key={i}>{i}</li>
      ))}
    </ul>
  );

const CHANNEL_COLUMNS: Column<LiveChannel>[] = [
  { key: 'topic', header: 'topic', sortable: true, class: 'code' },
  {
    key: 'private',
    header: 'access',
    sortable: true,
    render: (c) => <Badge on={!c.private}>{c.private ? 'private' : 'public'}</Badge>,
  },
  { key: 'sockets', header: 'sockets', sortable: true },
  {
    key: 'presence',
    header: 'presence (keys / metas)',
    value: (c) => c.presence.keys,
    sortable: true,
    render: (c) => (
      <>
        {c.presence.keys} / {c.presence.metas}
        {c.presence.entries.length > 0 &&
          list(c.presence.entries.map((e) => `${e.key}${e.metas > 1 ? ` (${e.metas})` : ''}`))}
      </>
    ),
  },
  {
    key: 'postgresChanges',
    header: 'postgres_changes',
    value: (c) => c.postgresChanges.reduce((n, s) => n + s.count, 0),
    sortable: true,
    render: (c) =>
      list(
        c.postgresChanges.map(
          (s) =>
            `${s.event} ${s.schema}${s.table ? `.${s.table}` : ''}${s.filter ? ` (${s.filter})` : ''} × ${s.count}`,
        ),
      ),
  },
  {
    key: 'broadcast',
    header: 'broadcast',
    render: (c) =>
      list(c.broadcast.map((b) => `self ${b.self ? 'on' : 'off'}, ack ${b.ack ? 'on' : 'off'} × ${b.count}`)),
  },
];
