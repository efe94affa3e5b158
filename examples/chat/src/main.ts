/**
 * The reference chat app: plain supabase-js against Trellis, nothing Trellis-specific. Sign up or
 * in, pick or create a room, chat live; unread counts per room, an avatar in storage.
 */
import { createClient, type Session } from '@supabase/supabase-js';
import { $, el, showError } from './dom.js';
import { RoomView, type Profile } from './room.js';

const supabase = createClient(import.meta.env.VITE_SUPABASE_URL, import.meta.env.VITE_SUPABASE_ANON_KEY);

let me: Profile | undefined;
let view: RoomView | undefined;
const unread = new Map<number, number>();
const roomNames = new Map<number, string>();

/** A row of public.rooms as the app selects it (the client is untyped: no generated Database types). */
interface Room {
  id: number;
  name: string;
}

// Listeners are void callbacks: each hands its async work off with `void` (the browser logs a failure).
$('auth-form').addEventListener('submit', (event) => void signIn(event));
$('sign-up').addEventListener('click', () => void signUp());
$('sign-out').addEventListener('click', () => void supabase.auth.signOut());
$('composer').addEventListener('submit', (event) => void send(event));
$('message').addEventListener('input', () => void view?.typed());
$('new-room').addEventListener('submit', (event) => void createRoom(event));
$('avatar-file').addEventListener('change', (event) => void uploadAvatar(event));

async function signIn(event: Event): Promise<void> {
  event.preventDefault();
  const { error } = await supabase.auth.signInWithPassword({
    email: $<HTMLInputElement>('email').value,
    password: $<HTMLInputElement>('password').value,
  });
  showError('auth-error', error);
}

async function signUp(): Promise<void> {
  const username = $<HTMLInputElement>('username').value.trim();
  const { error } = await supabase.auth.signUp({
    email: $<HTMLInputElement>('email').value,
    password: $<HTMLInputElement>('password').value,
    options: { data: username ? { username } : {} },
  });
  showError('auth-error', error);
}

async function send(event: Event): Promise<void> {
  event.preventDefault();
  const input = $<HTMLInputElement>('message');
  const body = input.value;
  input.value = '';
  await view?.send(body);
}

async function createRoom(event: Event): Promise<void> {
  event.preventDefault();
  const input = $<HTMLInputElement>('new-room-name');
  const { data, error } = await supabase.from('rooms').insert({ name: input.value.trim() }).select('id, name').single();
  if (error) return showError('app-error', error);
  input.value = '';
  await loadRooms();
  const room: Room = data;
  await openRoom(room.id, room.name);
}

async function uploadAvatar(event: Event): Promise<void> {
  const file = (event.target as HTMLInputElement).files?.[0];
  if (!file || !me) return;
  const path = `${me.id}/avatar`;
  const { error } = await supabase.storage.from('avatars').upload(path, file, { upsert: true, contentType: file.type });
  if (error) return showError('app-error', error);
  const url = `${supabase.storage.from('avatars').getPublicUrl(path).data.publicUrl}?v=${Date.now()}`;
  const saved = await supabase.from('profiles').update({ avatar_url: url }).eq('id', me.id);
  if (saved.error) return showError('app-error', saved.error);
  me.avatar_url = url;
  $<HTMLImageElement>('my-avatar').src = url;
}

supabase.auth.onAuthStateChange((event, session) => {
  // Work outside the callback: supabase-js holds a lock while it runs.
  setTimeout(() => void (event === 'SIGNED_OUT' || !session ? signedOut() : signedIn(session)), 0);
});

async function signedIn(session: Session): Promise<void> {
  if (me?.id === session.user.id) return;
  const { data, error } = await supabase
    .from('profiles')
    .select('id, username, avatar_url')
    .eq('id', session.user.id)
    .single();
  if (error) return showError('auth-error', error);
  me = data;
  view = new RoomView(supabase, me, (roomId) => {
    unread.set(roomId, 0);
    renderRooms();
  });
  $('my-name').textContent = me.username;
  $<HTMLImageElement>('my-avatar').src = me.avatar_url ?? '';
  $('auth').hidden = true;
  $('app').hidden = false;
  await loadRooms();
  watchUnread();
  const first = [...roomNames][0];
  if (first) await openRoom(first[0], first[1]);
}

async function signedOut(): Promise<void> {
  await view?.close();
  await supabase.removeAllChannels();
  me = undefined;
  view = undefined;
  $('app').hidden = true;
  $('auth').hidden = false;
}

async function loadRooms(): Promise<void> {
  const [rooms, counts] = await Promise.all([
    supabase.from('rooms').select('id, name').order('name'),
    supabase.rpc('unread_counts'),
  ]);
  if (rooms.error) return showError('app-error', rooms.error);
  roomNames.clear();
  const rows: Room[] = rooms.data;
  for (const r of rows) roomNames.set(r.id, r.name);
  for (const c of (counts.data ?? []) as { room_id: number; unread: number }[]) unread.set(c.room_id, Number(c.unread));
  renderRooms();
}

/** New messages in rooms the user is a member of but not looking at (RLS limits what arrives). */
function watchUnread(): void {
  supabase
    .channel('unread')
    .on('postgres_changes', { event: 'INSERT', schema: 'public', table: 'messages' }, ({ new: row }) => {
      const { room_id, author_id } = row as { room_id: number; author_id: string };
      if (room_id === view?.roomId || author_id === me?.id) return;
      unread.set(room_id, (unread.get(room_id) ?? 0) + 1);
      renderRooms();
    })
    .subscribe();
}

function renderRooms(): void {
  $('rooms').replaceChildren(
    ...[...roomNames].map(([id, name]) => {
      const count = unread.get(id) ?? 0;
      const li = el('li', { className: id === view?.roomId ? 'active' : '' }, el('span', {}, `# ${name}`));
      if (count > 0) li.append(el('span', { className: 'badge' }, String(count)));
      li.dataset.room = name;
      li.addEventListener('click', () => void openRoom(id, name));
      return li;
    }),
  );
}

async function openRoom(id: number, name: string): Promise<void> {
  await view?.open(id, name);
  renderRooms();
}

$('auth').hidden = false;
