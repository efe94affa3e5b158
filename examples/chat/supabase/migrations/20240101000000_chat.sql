-- The reference chat app's schema: profiles, rooms, members, messages, read markers, avatars.
-- Row-level security decides everything: members read and post in their rooms, nobody else.

create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  username text unique not null check (length(username) between 2 and 32),
  avatar_url text,
  created_at timestamptz not null default now()
);

-- Every new user gets a profile, named by the sign-up's `username` (or the email's local part).
create function public.handle_new_user() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.profiles (id, username)
  values (new.id, coalesce(nullif(new.raw_user_meta_data ->> 'username', ''), split_part(new.email, '@', 1)));
  return new;
end $$;
create trigger on_auth_user_created after insert on auth.users for each row execute procedure public.handle_new_user();

create table public.rooms (
  id bigint generated always as identity primary key,
  name text unique not null check (length(name) between 1 and 64),
  created_by uuid references public.profiles (id) default auth.uid(),
  created_at timestamptz not null default now()
);

create table public.members (
  room_id bigint references public.rooms (id) on delete cascade,
  user_id uuid references public.profiles (id) on delete cascade default auth.uid(),
  joined_at timestamptz not null default now(),
  last_read_at timestamptz not null default now(),
  primary key (room_id, user_id)
);

create table public.messages (
  id bigint generated always as identity primary key,
  room_id bigint not null references public.rooms (id) on delete cascade,
  author_id uuid not null references public.profiles (id) default auth.uid(),
  body text not null check (length(body) between 1 and 4000),
  created_at timestamptz not null default now()
);
create index messages_room_latest on public.messages (room_id, id desc);

-- Policies call this rather than reading members under its own policy (which would recurse).
create function public.is_member(room bigint) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.members where room_id = room and user_id = auth.uid())
$$;

alter table public.profiles enable row level security;
alter table public.rooms enable row level security;
alter table public.members enable row level security;
alter table public.messages enable row level security;

create policy "signed-in users see profiles" on public.profiles for select to authenticated using (true);
create policy "users edit their profile" on public.profiles for update to authenticated using (id = auth.uid()) with check (id = auth.uid());

create policy "signed-in users see rooms" on public.rooms for select to authenticated using (true);
create policy "signed-in users create rooms" on public.rooms for insert to authenticated with check (created_by = auth.uid());

create policy "members see their rooms' members" on public.members for select to authenticated using (public.is_member(room_id));
create policy "users join rooms as themselves" on public.members for insert to authenticated with check (user_id = auth.uid());
create policy "users mark their reading" on public.members for update to authenticated using (user_id = auth.uid()) with check (user_id = auth.uid());
create policy "users leave rooms" on public.members for delete to authenticated using (user_id = auth.uid());

create policy "members read messages" on public.messages for select to authenticated using (public.is_member(room_id));
create policy "members post as themselves" on public.messages for insert to authenticated with check (author_id = auth.uid() and public.is_member(room_id));

-- Unread messages per room of the caller: posted by others after their last read.
create function public.unread_counts() returns table (room_id bigint, unread bigint)
language sql stable as $$
  select m.room_id, count(msg.id)
  from public.members m
  left join public.messages msg on msg.room_id = m.room_id and msg.created_at > m.last_read_at and msg.author_id <> auth.uid()
  where m.user_id = auth.uid()
  group by m.room_id
$$;

-- Live messages (postgres_changes): realtime delivers a row only to subscribers RLS lets read it.
alter publication supabase_realtime add table public.messages;

-- Avatars: a public bucket; each user writes only in the folder named by their id.
insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values ('avatars', 'avatars', true, 2097152, array['image/png', 'image/jpeg', 'image/webp', 'image/gif'])
on conflict (id) do nothing;
create policy "avatars are public" on storage.objects for select using (bucket_id = 'avatars');
create policy "users upload their avatar" on storage.objects for insert to authenticated
  with check (bucket_id = 'avatars' and (storage.foldername(name))[1] = auth.uid()::text);
create policy "users replace their avatar" on storage.objects for update to authenticated
  using (bucket_id = 'avatars' and (storage.foldername(name))[1] = auth.uid()::text);

insert into public.rooms (name, created_by) values ('general', null), ('random', null);
