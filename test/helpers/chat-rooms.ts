/**
 * Seed 003's chat, reduced, for the jobs tests: rooms, their members, and messages a member posts
 * under RLS. Each test adds the trigger that notifies the other members its own way.
 */
export const CHAT_ROOMS_SQL = `
create table public.rooms (id bigint generated always as identity primary key, name text not null);
create table public.members (
  room_id bigint references public.rooms on delete cascade,
  user_id uuid references auth.users on delete cascade,
  primary key (room_id, user_id)
);
create table public.messages (
  id bigint generated always as identity primary key,
  room_id bigint not null references public.rooms on delete cascade,
  sender uuid not null default auth.uid() references auth.users,
  body text not null
);
alter table public.messages enable row level security;
create policy members_write on public.messages for insert to authenticated
  with check (sender = auth.uid() and exists (select 1 from public.members m where m.room_id = messages.room_id and m.user_id = auth.uid()));
grant insert on public.messages to authenticated;
`;
