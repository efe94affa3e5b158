/** Realtime: live sockets, channels and message counts (polled), and a test broadcast. */
import { api } from './api.js';
import { errorBox, h, replace } from './dom.js';

interface Summary {
  realtime: { connections: number; channels: number; messagesIn: number; messagesOut: number };
}

export function realtimePage(root: HTMLElement): () => void {
  const cards = h('div', { className: 'cards', id: 'realtime-cards' });
  const channel = h('input', { id: 'broadcast-channel', placeholder: 'channel (topic)', value: 'room:lobby' });
  const event = h('input', { id: 'broadcast-event', placeholder: 'event', value: 'test' });
  const payload = h('input', {
    id: 'broadcast-payload',
    placeholder: '{"hello": "world"}',
    value: '{"hello": "world"}',
  });
  const isPrivate = h('input', { type: 'checkbox' });
  const message = h('div', {});
  const poll = async () => {
    try {
      const { realtime } = await api<Summary>('GET', '/metrics');
      const card = (title: string, value: number) => h('div', { className: 'card' }, title, h('b', {}, value));
      replace(
        cards,
        card('open sockets', realtime.connections),
        card('joined channels', realtime.channels),
        card('messages in', realtime.messagesIn),
        card('messages out', realtime.messagesOut),
      );
    } catch (err) {
      replace(cards, errorBox(err));
    }
  };
  const send = async () => {
    try {
      const parsed = JSON.parse(payload.value || '{}') as unknown;
      await api('POST', '/realtime/broadcast', {
        channel: channel.value,
        event: event.value,
        payload: parsed,
        private: isPrivate.checked,
      });
      replace(
        message,
        h('div', { className: 'muted', id: 'broadcast-sent' }, `Sent "${event.value}" to ${channel.value}.`),
      );
    } catch (err) {
      replace(message, errorBox(err));
    }
  };
  replace(
    root,
    h('h2', {}, 'Realtime'),
    h('p', { className: 'muted' }, 'Counts of this process; each worker of --workers N counts its own.'),
    cards,
    h('h3', {}, 'Send a test broadcast'),
    h(
      'div',
      { className: 'row' },
      channel,
      event,
      payload,
      h('label', {}, isPrivate, ' private'),
      h('button', { id: 'broadcast', onclick: () => void send() }, 'Send'),
    ),
    message,
  );
  void poll();
  const timer = setInterval(() => void poll(), 2000);
  return () => clearInterval(timer);
}
