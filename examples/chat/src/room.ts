/**
 * One open room: history with infinite scroll (range queries), live messages (postgres_changes),
 * typing indicators (broadcast) and who is online (presence), all on one realtime channel.
 */
import { REALTIME_SUBSCRIBE_STATES, type RealtimeChannel, type SupabaseClient } from '@supabase/supabase-js';
import { $, el, showError } from './dom.js';

export interface Profile {
  id: string;
  username: string;
  avatar_url: string | null;
}

interface Message {
  id: number;
  body: string;
  created_at: string;
  author_id: string;
  author?: Profile | null;
}

const PAGE = 30;

export class RoomView {
  private channel: RealtimeChannel | undefined;
  private oldest: number | undefined;
  private loadingOlder = false;
  private exhausted = false;
  private readonly typing = new Map<string, number>();
  private readonly authors = new Map<string, Profile>();
  private typingSentAt = 0;

  constructor(
    private readonly supabase: SupabaseClient,
    private readonly me: Profile,
    private readonly onRead: (roomId: number) => void,
  ) {
    this.authors.set(me.id, me);
    $('messages').addEventListener('scroll', () => {
      if ($('messages').scrollTop < 40) void this.loadOlder();
    });
  }

  roomId: number | undefined;

  async open(roomId: number, name: string): Promise<void> {
    await this.close();
    this.roomId = roomId;
    this.oldest = undefined;
    this.exhausted = false;
    $('room-name').textContent = `# ${name}`;
    $('messages').replaceChildren();
    $<HTMLInputElement>('message').disabled = false;
    // Joining is a row in members; joining twice answers 409, which is fine.
    const joined = await this.supabase.from('members').insert({ room_id: roomId, user_id: this.me.id });
    if (joined.error && joined.error.code !== '23505') return showError('app-error', joined.error);
    await this.loadOlder();
    this.subscribe(roomId);
    await this.markRead();
  }

  private subscribe(roomId: number): void {
    const channel = this.supabase.channel(`room:${roomId}`, {
      config: { presence: { key: this.me.id }, broadcast: { self: false } },
    });
    channel
      .on(
        'postgres_changes',
        { event: 'INSERT', schema: 'public', table: 'messages', filter: `room_id=eq.${roomId}` },
        ({ new: row }) => void this.arrived(row as Message),
      )
      .on('broadcast', { event: 'typing' }, ({ payload }) => {
        const who = (payload as { username?: string }).username;
        if (!who) return;
        this.typing.set(who, Date.now());
        this.renderTyping();
        setTimeout(() => this.renderTyping(), 3100);
      })
      .on('presence', { event: 'sync' }, () => {
        const names = Object.values(channel.presenceState<{ username: string }>())
          .map((metas) => metas[0]?.username)
          .filter((n): n is string => Boolean(n))
          .sort();
        $('online').textContent = names.length ? `online: ${names.join(', ')}` : '';
      })
      .subscribe((status) => {
        if (status === REALTIME_SUBSCRIBE_STATES.SUBSCRIBED) void channel.track({ username: this.me.username });
      });
    this.channel = channel;
  }

  /** A live message: shown with its author, who has stopped typing; the room is read up to it. */
  private async arrived(message: Message): Promise<void> {
    message.author = await this.author(message.author_id);
    this.append([message], true);
    this.typing.delete(message.author?.username ?? '');
    this.renderTyping();
    await this.markRead();
  }

  async close(): Promise<void> {
    if (this.channel) await this.supabase.removeChannel(this.channel);
    this.channel = undefined;
    // The next room hears about the first keystroke made in it, however soon after the last one here.
    this.typingSentAt = 0;
    this.typing.clear();
    this.renderTyping();
    $('online').textContent = '';
  }

  async send(body: string): Promise<void> {
    if (this.roomId === undefined || body.trim() === '') return;
    const { data, error } = await this.supabase
      .from('messages')
      .insert({ room_id: this.roomId, body })
      .select('id, body, created_at, author_id')
      .single();
    showError('app-error', error);
    // Shown at once; the same row arriving over realtime is not shown twice.
    if (data) this.append([{ ...(data as Message), author: this.me }], true);
  }

  /** At most one typing broadcast a second while the user types. */
  async typed(): Promise<void> {
    if (!this.channel || Date.now() - this.typingSentAt < 1000) return;
    this.typingSentAt = Date.now();
    await this.channel.send({ type: 'broadcast', event: 'typing', payload: { username: this.me.username } });
  }

  private async loadOlder(): Promise<void> {
    if (this.roomId === undefined || this.loadingOlder || this.exhausted) return;
    this.loadingOlder = true;
    try {
      let query = this.supabase
        .from('messages')
        .select('id, body, created_at, author_id, author:profiles(id, username, avatar_url)')
        .eq('room_id', this.roomId)
        .order('id', { ascending: false });
      if (this.oldest !== undefined) query = query.lt('id', this.oldest);
      const { data, error } = await query.range(0, PAGE - 1);
      if (error) return showError('app-error', error);
      const page = (data as unknown as Message[]).reverse();
      if (page.length < PAGE) this.exhausted = true;
      for (const m of page) if (m.author) this.authors.set(m.author.id, m.author);
      this.prepend(page);
    } finally {
      this.loadingOlder = false;
    }
  }

  private async author(id: string): Promise<Profile | null> {
    const known = this.authors.get(id);
    if (known) return known;
    const { data } = await this.supabase.from('profiles').select('id, username, avatar_url').eq('id', id).maybeSingle();
    if (data) this.authors.set(id, data);
    return data ?? null;
  }

  private async markRead(): Promise<void> {
    if (this.roomId === undefined) return;
    await this.supabase
      .from('members')
      .update({ last_read_at: new Date().toISOString() })
      .eq('room_id', this.roomId)
      .eq('user_id', this.me.id);
    this.onRead(this.roomId);
  }

  private item(m: Message): HTMLLIElement {
    const avatar = el('img', { className: 'avatar', alt: '', src: m.author?.avatar_url ?? '' });
    const text = el(
      'div',
      {},
      el('span', { className: 'who' }, m.author?.username ?? '?'),
      el('time', {}, new Date(m.created_at).toLocaleTimeString()),
      el('div', { className: 'body' }, m.body),
    );
    const li = el('li', {}, avatar, text);
    li.dataset.id = String(m.id);
    return li;
  }

  private prepend(page: Message[]): void {
    const list = $('messages');
    const before = list.scrollHeight - list.scrollTop;
    list.prepend(...page.map((m) => this.item(m)));
    if (page[0]) this.oldest = page[0].id;
    // Keep the view where it was (or at the bottom for the first page).
    list.scrollTop =
      this.oldest === page[0]?.id && list.children.length === page.length
        ? list.scrollHeight
        : list.scrollHeight - before;
  }

  private append(messages: Message[], scroll: boolean): void {
    const list = $('messages');
    for (const m of messages) if (!list.querySelector(`[data-id="${m.id}"]`)) list.append(this.item(m));
    if (scroll) list.scrollTop = list.scrollHeight;
  }

  private renderTyping(): void {
    const now = Date.now();
    const who = [...this.typing].filter(([, at]) => now - at < 3000).map(([name]) => name);
    $('typing').textContent = who.length ? `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…` : '';
  }
}
